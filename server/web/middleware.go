package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
)

// maxFormBytes bounds form bodies.
const maxFormBytes = 64 << 10

// contentSecurityPolicy allows nothing but this server's own scripts,
// styles and images, and forms that post back to it.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders are set on every page. no-store keeps every page out of
// caches, so that a page that showed a token cannot come back from one.
func securityHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
}

// Context keys of the web surface.
const (
	principalKey = "portus.web.principal"
	sessionKey   = "portus.web.session"
	secretKey    = "portus.web.secret"
)

// currentUser returns the signed-in principal, if any.
func currentUser(c *gin.Context) (account.Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return account.Principal{}, false
	}
	p, ok := v.(account.Principal)
	return p, ok
}

// currentSession returns the session of the request, if any.
func currentSession(c *gin.Context) (model.Session, bool) {
	v, ok := c.Get(sessionKey)
	if !ok {
		return model.Session{}, false
	}
	s, ok := v.(model.Session)
	return s, ok
}

// currentSecret returns the session cookie's value of a signed-in request.
func currentSecret(c *gin.Context) string { return c.GetString(secretKey) }

// actor is the signed-in user as the actor of an action.
func actor(c *gin.Context) account.Actor {
	p, _ := currentUser(c)
	return p.Actor(c.ClientIP())
}

// loadSession finds the session of the request's session cookie. It never
// looks at any other credential: an Authorization or Portus-Auth header is
// not a way into the web UI. A cookie that opens no session is cleared.
func (h *Handler) loadSession(c *gin.Context) {
	ck, err := c.Request.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return
	}
	p, sess, err := h.sessions.Lookup(ck.Value)
	switch {
	case errors.Is(err, account.ErrNoSession):
		h.clearCookie(c, sessionCookie)
		return
	case err != nil:
		h.fail(c, err)
		c.Abort()
		return
	}
	c.Set(principalKey, p)
	c.Set(sessionKey, sess)
	c.Set(secretKey, ck.Value)
}

// require enforces a route's access level. Someone not signed in is sent
// to the sign-in page, with nothing done.
func (h *Handler) require(level access) gin.HandlerFunc {
	return func(c *gin.Context) {
		if level == anyone {
			return
		}
		p, ok := currentUser(c)
		if !ok {
			msg, to := "Sign in to see that page.", "/signin"
			if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
				msg = "Your session has ended, so nothing was changed. Sign in and try again."
			} else if next := safeNext(c.Request.URL.RequestURI()); next != "/profile" {
				to += "?" + nextField + "=" + url.QueryEscape(next) // back here after signing in
			}
			h.redirect(c, to, flash{Kind: "info", Text: msg})
			c.Abort()
			return
		}
		if level == adminOnly && !p.Admin() {
			h.errorPage(c, http.StatusForbidden, "Administrators only",
				"Only administrators can use this page. Ask an administrator if you need something changed.")
			c.Abort()
		}
	}
}

// checkCSRF refuses a state-changing request whose form does not carry
// the right csrf_token: the session's token on signed-in routes, the
// pre-session token bound to the portus_csrf cookie on the others.
func (h *Handler) checkCSRF(level access) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes)
		if err := c.Request.ParseForm(); err != nil {
			h.errorPage(c, http.StatusBadRequest, "Form not readable",
				"The form could not be read (it may be larger than 64 KiB). Go back and try again.")
			c.Abort()
			return
		}
		got := c.Request.PostForm.Get(csrfField)
		ok := false
		if level == anyone {
			ck, err := c.Request.Cookie(csrfCookie)
			ok = err == nil && got != "" && h.sessions.Verify(csrfPurpose, ck.Value, got)
		} else if sess, has := currentSession(c); has {
			ok = got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) == 1
		}
		if !ok {
			h.log.Warn("refused a form without a valid CSRF token", "method", c.Request.Method, "path", c.FullPath(), "client_ip", c.ClientIP())
			h.errorPage(c, http.StatusForbidden, "Form not accepted",
				"This form could not be verified (its security token is missing or out of date), so nothing was changed. "+
					"Go back, reload the page and submit the form again. If it keeps happening, check that your browser accepts cookies from this site.")
			c.Abort()
		}
	}
}
