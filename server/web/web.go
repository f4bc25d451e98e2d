// Package web serves the HTML interface of Portus: sign-up, sign-in, the
// profile page with the application tokens, the activity log and the
// administrators' pages. Pages are rendered on the server from templates
// embedded in the binary and work without JavaScript; the one script (copy
// a new token to the clipboard) only adds a button.
//
// Every URL is in the route table (routes.go). Each page action has its own
// small file named noun + verb (token_create.go, user_update.go …) that
// reads: who is the user → parse the form → call package account → render
// or redirect. Handlers never touch the store.
//
// # Sessions
//
// A password sign-in (account.AuthenticatePassword; an application token is
// refused like a wrong password) starts a server-side session: the cookie
// portus_session holds 32 random bytes, the store only their SHA-256. The
// cookie is HttpOnly, SameSite=Lax, Path=/, and Secure when the public URL
// is https or the server speaks TLS. Pages authenticate by that cookie and
// nothing else: no Authorization or Portus-Auth header, no query parameter.
//
// # CSRF
//
// Every form that changes something carries a hidden csrf_token, and one
// middleware checks it, in constant time, on every non-GET route of this
// surface before the handler runs; a missing or wrong token gets a 403 page.
// Inside a session the token is the session's random CSRF token. The
// sign-in and sign-up forms, which have no session yet, use a double-submit
// token: the cookie portus_csrf holds a random value, and the form carries
// an HMAC of that value under a key derived from the server's pepper, so
// another site can neither read nor mint a matching pair.
package web

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/url"
	"sync/atomic"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/oidcsignin"
)

// Handler serves the web UI. Make it with New.
type Handler struct {
	accounts  *account.Service
	sessions  *account.Sessions
	log       *slog.Logger
	pages     map[string]*template.Template
	secure    bool     // Secure cookies
	signup    bool     // the sign-up page is open
	hosts     []string // the registries shown in the docker login lines
	maxTokens int
	created   *justCreated // new tokens' values for their one view
	// sso signs people in with the OpenID provider (nil: off), named
	// ssoName on the button; ssoOnly hides password sign-in.
	sso     *oidcsignin.Client
	ssoName string
	ssoOnly bool
	// hasUsers is set once an account exists (noUsers).
	hasUsers atomic.Bool
}

// New parses the templates and returns the handler. A template that does
// not parse is an error here, so that the server does not start with it.
func New(accounts *account.Service, c config.Config, log *slog.Logger) (*Handler, error) {
	pages, err := parseTemplates(templateFS)
	if err != nil {
		return nil, fmt.Errorf("parsing the web templates: %w", err)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	h := &Handler{
		accounts:  accounts,
		sessions:  accounts.Sessions(account.SessionLimits{Idle: c.SessionIdle, MaxAge: c.SessionMaxAge}),
		log:       log,
		pages:     pages,
		secure:    u.Scheme == "https" || c.TLSCert != "",
		signup:    c.Signup,
		hosts:     c.DockerHosts(),
		maxTokens: accounts.MaxTokens(),
		created:   newJustCreated(),
	}
	if c.OIDC.Enabled() {
		if h.sso, err = oidcsignin.FromConfig(c.OIDC, c.URL, log); err != nil {
			return nil, err
		}
		h.ssoName, h.ssoOnly = c.OIDC.Name, c.OIDC.Only
		h.signup = h.signup && !h.ssoOnly
		// A first look now, so that a misconfigured issuer shows in the log
		// at start; a provider that is down is retried at each sign-in.
		go h.sso.Discover(context.Background()) //nolint:errcheck // it logs
	}
	return h, nil
}
