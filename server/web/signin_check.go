package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
)

// signinCheck signs in with a username and a password. Only a password:
// it calls AuthenticatePassword, so an application token typed into the
// form fails like any wrong password, and it counts against the same
// throttle as the API and the token endpoint.
func (h *Handler) signinCheck(c *gin.Context) {
	name := strings.TrimSpace(c.PostForm("username"))
	password := c.PostForm("password")
	next := c.PostForm(nextField)
	again := func(status int, msg string) {
		h.render(c, status, "signin", "Sign in", "signin", h.signinPage(signinData{Username: name, Error: msg, Next: nextOf(next), Retry: name != ""}))
	}
	if h.ssoOnly {
		h.render(c, http.StatusForbidden, "signin", "Sign in", "signin", h.signinPage(signinData{Next: nextOf(next),
			Error: "This server signs people in with " + h.ssoName + " only: use the button below."}))
		return
	}
	if name == "" || password == "" {
		again(http.StatusBadRequest, "Enter your username and your password.")
		return
	}
	p, err := h.accounts.AuthenticatePassword(name, password, c.ClientIP())
	if err != nil {
		status, msg := h.explain(c, err)
		again(status, msg)
		return
	}
	if !h.startSession(c, p) {
		return // startSession has answered
	}
	h.redirect(c, safeNext(next))
}

// startSession gives the browser a new session for p, ending the one it
// had (a session id is never reused across sign-ins). When it cannot, it
// renders the error page and returns false: the caller must not answer
// again.
func (h *Handler) startSession(c *gin.Context, p account.Principal) bool {
	if ck, err := c.Request.Cookie(sessionCookie); err == nil && ck.Value != "" {
		if err := h.sessions.End(account.Actor{}, ck.Value); err != nil {
			h.log.Error("could not end the previous session", "err", err)
		}
	}
	secret, _, err := h.sessions.Start(p, c.ClientIP())
	if err != nil {
		h.fail(c, err)
		return false
	}
	h.setSessionCookie(c, secret)
	return true
}
