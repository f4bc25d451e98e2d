package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/httperr"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// profileData is what the profile page shows.
type profileData struct {
	Table   tokenTable
	AtLimit bool
	Limit   string // the limit message, when AtLimit
	// Created is the token whose value this view shows: the only time it
	// is ever shown (see justCreated).
	Created *apitypes.CreatedToken
	// Reuses flag uses of secrets replaced by a rotation (account.ReuseNotices).
	Reuses []account.ReuseNotice
	// JustCreated names a token created moments ago whose one view is
	// over (a reload, or another replica): the page says it cannot be
	// shown again.
	JustCreated string

	Form tokenForm
	// TokenError is the create-token form's error, TokenField the id of
	// the field it is about ("" for none).
	TokenError, TokenField string

	// PasswordError is the password form's error, PasswordField the id of
	// the field it is about.
	PasswordError, PasswordField string
	// Directory is set for accounts whose password lives in LDAP: the
	// page cannot change it, so it says where to.
	Directory bool
	// SSO is set for accounts that sign in with the OpenID provider and
	// have no password: the page says how they get tokens instead.
	SSO bool

	// DockerLogin is the docker_login policy in force and who set it;
	// DockerLoginError the switch's error.
	DockerLogin      account.DockerLoginState
	DockerLoginError string

	Username string
	// Leaked are the user's tokens revoked after a leak report lately.
	Leaked []account.LeakNotice
	// Hosts are the registries for the docker login lines; empty when
	// the server knows none.
	Hosts    []string
	Scopes   []option
	Expiries []option
	// Expiring are the tokens that expire within 7 days: the banner.
	Expiring []apitypes.Token
}

// tokenForm holds the create-token form's values for a second try.
type tokenForm struct {
	Name, Scope, Expires string
}

// option is an <option> of a <select>.
type option struct {
	Value, Label string
}

var scopeOptions = []option{
	{apitypes.ScopePull, "pull (read)"},
	{apitypes.ScopePush, "push (read, write)"},
	{apitypes.ScopeDelete, "delete (read, write, delete)"},
}

// profileShow shows the signed-in user's tokens and settings. After a
// token was created (?created=ID) it shows that token's value, once.
func (h *Handler) profileShow(c *gin.Context) {
	h.showProfile(c, http.StatusOK, profileData{})
}

// showProfile fills in the tokens and renders the profile page with d.
func (h *Handler) showProfile(c *gin.Context, status int, d profileData) {
	p, _ := currentUser(c)
	tokens, err := h.accounts.Tokens(p.Name())
	if err != nil {
		h.fail(c, err)
		return
	}
	if id := c.Query("created"); id != "" && d.Created == nil {
		h.createdView(c, id, tokens, &d)
	}
	if d.Reuses, err = h.accounts.ReuseNotices(p.Name()); err != nil {
		h.fail(c, err)
		return
	}
	d.Table = ownTokenTable(tokens, h.maxTokens)
	d.AtLimit = d.Table.AppTokens() >= h.maxTokens
	d.Limit = httperr.TokenLimitPage(d.Table.AppTokens())
	var preselected string
	d.Expiries, preselected = expiryChoices(h.accounts.TokenPolicy())
	if d.Form == (tokenForm{}) { // not a second try: the defaults
		d.Form = tokenForm{Scope: apitypes.ScopePush, Expires: preselected}
	}
	d.Expiring = expiringSoon(tokens)
	d.Username = p.Name()
	if d.Leaked, err = h.accounts.LeakNotices(p.Name()); err != nil {
		h.log.Warn("reading leak notices for the profile page", "err", err)
	}
	d.Directory = p.User.Source == model.SourceLDAP
	d.SSO = p.User.Source == model.SourceOIDC
	d.DockerLogin = h.accounts.DockerLoginOf(p.User)
	d.Hosts = h.hosts
	d.Scopes = scopeOptions
	h.render(c, status, "profile", "Profile", "profile", d)
}

// createdView fills in the token id that the redirect after its creation
// names: its value when this session has not seen it yet, else only its
// name. An id that is not one of the user's tokens is ignored.
func (h *Handler) createdView(c *gin.Context, id string, tokens []apitypes.Token, d *profileData) {
	for _, t := range tokens {
		if t.ID != id {
			continue
		}
		sess, _ := currentSession(c)
		if tok, ok := h.created.take(string(sess.ID), id); ok {
			d.Created = &tok
			return
		}
		d.JustCreated = t.Name
		return
	}
}
