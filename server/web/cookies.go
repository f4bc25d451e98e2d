package web

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
)

// Cookies and form fields of the web UI.
const (
	sessionCookie = account.SessionCookie
	csrfCookie    = "portus_csrf"
	flashCookie   = "portus_flash"
	csrfField     = "csrf_token"
	csrfPurpose   = "pre-session csrf"
	flashPurpose  = "flash"
	// flashMaxAge bounds how long a flash waits for the next page.
	flashMaxAge = 5 * time.Minute
)

func (h *Handler) setCookie(c *gin.Context, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(c.Writer, ck)
}

func (h *Handler) clearCookie(c *gin.Context, name string) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// setSessionCookie gives the browser its session. It lives as long as the
// session may (the server ends it earlier when it is idle).
func (h *Handler) setSessionCookie(c *gin.Context, secret string) {
	h.setCookie(c, sessionCookie, secret, h.sessions.Limits().MaxAge)
}

// preSessionToken returns the CSRF token for forms shown outside a session
// (sign-in, sign-up), setting the portus_csrf cookie it is bound to when
// the browser has none yet.
func (h *Handler) preSessionToken(c *gin.Context) string {
	value := ""
	if ck, err := c.Request.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 && len(ck.Value) <= 64 {
		value = ck.Value
	}
	if value == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			panic(err) // crypto/rand does not fail on supported systems
		}
		value = base64.RawURLEncoding.EncodeToString(b)
		h.setCookie(c, csrfCookie, value, 0)
		// Later reads in this request see it.
		c.Request.AddCookie(&http.Cookie{Name: csrfCookie, Value: value})
	}
	return h.sessions.Sign(csrfPurpose, value)
}

// flash is a one-time message shown on the next page. It never holds a
// secret: names of tokens and users at most.
type flash struct {
	Kind string `json:"k"` // success, error or info
	Text string `json:"t"`
}

// setFlash stores messages for the next page in a short-lived, signed
// cookie.
func (h *Handler) setFlash(c *gin.Context, msgs ...flash) {
	if len(msgs) == 0 {
		return
	}
	data, err := json.Marshal(msgs)
	if err != nil {
		return
	}
	payload := base64.RawURLEncoding.EncodeToString(data)
	h.setCookie(c, flashCookie, payload+"."+h.sessions.Sign(flashPurpose, payload), flashMaxAge)
}

// takeFlash returns the pending messages and clears them.
func (h *Handler) takeFlash(c *gin.Context) []flash {
	ck, err := c.Request.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	h.clearCookie(c, flashCookie)
	payload, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || !h.sessions.Verify(flashPurpose, payload, sig) {
		return nil
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	var msgs []flash
	if json.Unmarshal(data, &msgs) != nil {
		return nil
	}
	return msgs
}

// redirect answers 303 See Other to path (always a path on this server),
// with messages for the page there.
func (h *Handler) redirect(c *gin.Context, path string, msgs ...flash) {
	h.setFlash(c, msgs...)
	c.Redirect(http.StatusSeeOther, path)
}

// success is a flash that confirms an action.
func success(text string) flash { return flash{Kind: "success", Text: text} }
