package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// access says who may use a route, and which CSRF token its forms carry.
type access int

const (
	// asset: static files; no session, no CSRF.
	asset access = iota
	// anyone, signed in or not; forms carry the pre-session CSRF token.
	anyone
	// signedIn: a valid session; forms carry the session's CSRF token.
	signedIn
	// adminOnly: a valid session of an administrator.
	adminOnly
)

// route is one row of the route table.
type route struct {
	method string
	path   string
	access access
	handle gin.HandlerFunc
}

// routes is the route table of the web UI: every URL it serves.
func (h *Handler) routes() []route {
	return []route{
		{http.MethodGet, "/", anyone, h.homeShow},
		{http.MethodGet, "/static/*file", asset, h.staticShow},

		{http.MethodGet, "/signin", anyone, h.signinShow},
		{http.MethodPost, "/signin", anyone, h.signinCheck},
		{http.MethodGet, "/signin/oidc", anyone, h.ssoStart},
		{http.MethodGet, "/signin/oidc/callback", anyone, h.ssoCallback},
		{http.MethodGet, "/signup", anyone, h.signupShow},
		{http.MethodPost, "/signup", anyone, h.signupSave},
		{http.MethodPost, "/signout", signedIn, h.signout},

		{http.MethodGet, "/profile", signedIn, h.profileShow},
		{http.MethodPost, "/profile/tokens", signedIn, h.tokenCreate},
		{http.MethodGet, "/profile/tokens/:id/remove", signedIn, h.tokenRemoveConfirm},
		{http.MethodPost, "/profile/tokens/:id/remove", signedIn, h.tokenRemove},
		{http.MethodGet, "/profile/tokens/:id/regenerate", signedIn, h.tokenRegenerateConfirm},
		{http.MethodPost, "/profile/tokens/:id/regenerate", signedIn, h.tokenRegenerate},
		{http.MethodPost, "/profile/password", signedIn, h.passwordUpdate},
		{http.MethodPost, "/profile/docker-login", signedIn, h.dockerLoginUpdate},
		{http.MethodGet, "/profile/tokens", signedIn, h.tokensShow},

		{http.MethodGet, "/device", signedIn, h.deviceShow},
		{http.MethodPost, "/device", signedIn, h.deviceCheck},
		{http.MethodPost, "/device/approve", signedIn, h.deviceApprove},
		{http.MethodPost, "/device/deny", signedIn, h.deviceDeny},

		{http.MethodGet, "/activity", signedIn, h.activityShow},
		{http.MethodGet, "/activity.csv", signedIn, h.activityExport},

		{http.MethodGet, "/admin/users", adminOnly, h.usersShow},
		{http.MethodPost, "/admin/users", adminOnly, h.userCreate},
		{http.MethodGet, "/admin/users/:name", adminOnly, h.userShow},
		{http.MethodGet, "/admin/users/:name/disable", adminOnly, h.userDisableConfirm},
		{http.MethodPost, "/admin/users/:name/disable", adminOnly, h.userDisable},
		{http.MethodPost, "/admin/users/:name/enable", adminOnly, h.userEnable},
		{http.MethodPost, "/admin/users/:name/grant-admin", adminOnly, h.userGrantAdmin},
		{http.MethodPost, "/admin/users/:name/revoke-admin", adminOnly, h.userRevokeAdmin},
		{http.MethodPost, "/admin/users/:name/docker-login", adminOnly, h.userDockerLoginUpdate},
		{http.MethodPost, "/admin/users/:name/password", adminOnly, h.userPasswordSet},
		{http.MethodPost, "/admin/users/:name/unlock", adminOnly, h.userUnlock},
		{http.MethodGet, "/admin/users/:name/tokens/:id/revoke", adminOnly, h.userTokenRevokeConfirm},
		{http.MethodPost, "/admin/users/:name/tokens/:id/revoke", adminOnly, h.userTokenRevoke},
		{http.MethodGet, "/admin/users/:name/revoke-all", adminOnly, h.userTokensRevokeAllConfirm},
		{http.MethodPost, "/admin/users/:name/revoke-all", adminOnly, h.userTokensRevokeAll},
	}
}

// Routes registers the web UI on r. Every route goes through the same
// chain: security headers, the session (from its cookie only), the access
// check, then the CSRF check for anything but GET and HEAD.
func (h *Handler) Routes(r gin.IRouter) {
	for _, rt := range h.routes() {
		if rt.access == asset {
			r.Handle(rt.method, rt.path, rt.handle)
			continue
		}
		r.Handle(rt.method, rt.path, securityHeaders, h.loadSession, h.require(rt.access), h.checkCSRF(rt.access), rt.handle)
	}
}
