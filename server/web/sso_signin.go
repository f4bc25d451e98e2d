package web

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/oidcsignin"
)

// Single sign-on with the OpenID provider of the oidc section. GET
// /signin/oidc sends the browser to the provider with a fresh state,
// nonce and PKCE challenge, kept in the cookie portus_oidc (signed,
// HttpOnly, ten minutes, path /signin/oidc) together with the page to
// return to. The callback takes that cookie once (it is cleared at the
// first callback, good or bad), checks the state in constant time, and
// oidcsignin redeems the code and verifies the ID token. The session it
// starts is the one a password sign-in starts.

const (
	ssoCookie  = "portus_oidc"
	ssoPurpose = "oidc flow"
	ssoMaxAge  = 10 * time.Minute
)

// ssoFlow is the portus_oidc cookie's content.
type ssoFlow struct {
	oidcsignin.Flow
	Next    string `json:"r,omitempty"`
	Expires int64  `json:"e"`
}

// ssoStart sends the browser to the provider's sign-in page.
func (h *Handler) ssoStart(c *gin.Context) {
	if h.sso == nil {
		h.notFound(c)
		return
	}
	if _, ok := currentUser(c); ok {
		c.Redirect(http.StatusSeeOther, safeNext(c.Query(nextField)))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	to, f, err := h.sso.Start(ctx)
	if err != nil {
		h.ssoFailed(c, err)
		return
	}
	data, err := json.Marshal(ssoFlow{Flow: f, Next: nextOf(c.Query(nextField)), Expires: time.Now().Add(ssoMaxAge).Unix()})
	if err != nil {
		h.fail(c, err)
		return
	}
	payload := base64.RawURLEncoding.EncodeToString(data)
	http.SetCookie(c.Writer, &http.Cookie{
		Name: ssoCookie, Value: payload + "." + h.sessions.Sign(ssoPurpose, payload), Path: oidcsignin.StartPath,
		MaxAge: int(ssoMaxAge / time.Second), HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
	c.Redirect(http.StatusSeeOther, to)
}

// takeSSOFlow reads and clears the flow cookie; false if it is missing,
// forged or expired.
func (h *Handler) takeSSOFlow(c *gin.Context) (ssoFlow, bool) {
	http.SetCookie(c.Writer, &http.Cookie{Name: ssoCookie, Value: "", Path: oidcsignin.StartPath, MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	ck, err := c.Request.Cookie(ssoCookie)
	if err != nil {
		return ssoFlow{}, false
	}
	payload, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || !h.sessions.Verify(ssoPurpose, payload, sig) {
		return ssoFlow{}, false
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	var f ssoFlow
	if err != nil || json.Unmarshal(data, &f) != nil || time.Now().Unix() > f.Expires || f.State == "" {
		return ssoFlow{}, false
	}
	return f, true
}

// ssoCallback finishes the sign-in the provider sends the browser back
// from.
func (h *Handler) ssoCallback(c *gin.Context) {
	if h.sso == nil {
		h.notFound(c)
		return
	}
	f, ok := h.takeSSOFlow(c)
	state := c.Query("state")
	if !ok || state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1 {
		h.log.Warn("refused an SSO callback whose state is not this browser's sign-in", "client_ip", c.ClientIP(), "flow_cookie", ok)
		h.errorPage(c, http.StatusBadRequest, "Sign-in not completed",
			"This sign-in could not be matched to one started in this browser (it may have taken more than 10 minutes, been started in another tab, or been tampered with). Nothing was signed in. "+
				"Go to the sign-in page and choose \"Sign in with "+h.ssoName+"\" again.")
		return
	}
	if e := c.Query("error"); e != "" {
		h.log.Info("the OpenID provider ended a sign-in with an error", "error", e, "client_ip", c.ClientIP())
		h.errorPage(c, http.StatusForbidden, "Sign-in not completed",
			h.ssoName+" did not sign you in ("+shortCode(e)+"). Go to the sign-in page to try again.")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	id, err := h.sso.Finish(ctx, c.Query("code"), f.Flow)
	if err != nil {
		h.ssoFailed(c, err)
		return
	}
	p, err := h.accounts.SignInSSO(id, c.ClientIP())
	var refused *account.SSORefusedError
	if errors.As(err, &refused) {
		h.errorPage(c, http.StatusForbidden, "Sign-in refused", refused.Reason)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	if !h.startSession(c, p) {
		return
	}
	h.redirect(c, safeNext(f.Next))
}

// ssoFailed explains an error of oidcsignin; the detail goes to the log.
func (h *Handler) ssoFailed(c *gin.Context, err error) {
	if errors.Is(err, oidcsignin.ErrUnavailable) {
		h.log.Warn("SSO sign-in failed: the OpenID provider is not answering", "err", err, "client_ip", c.ClientIP())
		h.errorPage(c, http.StatusServiceUnavailable, "Sign-in service unavailable",
			h.ssoName+" is not answering right now, so you cannot sign in with it. Try again in a minute; if it keeps happening, tell your administrator.")
		return
	}
	h.log.Warn("SSO sign-in refused", "err", err, "client_ip", c.ClientIP())
	h.errorPage(c, http.StatusForbidden, "Sign-in refused",
		"The answer from "+h.ssoName+" could not be verified, so you were not signed in. Go to the sign-in page and try again; if it keeps happening, tell your administrator (the server log says why).")
}

// shortCode keeps an OAuth error code readable and harmless.
func shortCode(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, s)
}
