package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/httperr"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// profileData is what the profile page shows.
type profileData struct {
	Table   tokenTable
	AtLimit bool
	Limit   string // the limit message, when AtLimit
	// Created is the token made by this very request: the only time its
	// value is ever shown. It is never stored, redirected or cached.
	Created *apitypes.CreatedToken

	Form       tokenForm
	TokenError string

	PasswordError string
	// Directory is set for accounts whose password lives in LDAP: the
	// page cannot change it, so it says where to.
	Directory bool

	Username string
	Registry string
	Scopes   []option
	Expiries []option
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

var expiryOptions = []option{
	{"", "never"},
	{"7", "in 7 days"},
	{"30", "in 30 days"},
	{"90", "in 90 days"},
	{"365", "in a year"},
}

// profileShow shows the signed-in user's tokens and settings.
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
	d.Table = ownTokenTable(tokens, h.maxTokens)
	d.AtLimit = d.Table.AppTokens() >= h.maxTokens
	d.Limit = httperr.TokenLimitPage(d.Table.AppTokens())
	if d.Form.Scope == "" {
		d.Form.Scope = apitypes.ScopePush
	}
	d.Username = p.Name()
	d.Directory = p.User.Source == model.SourceLDAP
	d.Registry = h.registry
	d.Scopes = scopeOptions
	d.Expiries = expiryOptions
	h.render(c, status, "profile", "Profile", "profile", d)
}
