package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// signinData is what the sign-in page shows.
type signinData struct {
	Username string
	Error    string
	// Next is where to go after signing in ("" for the profile).
	Next string
	// Retry is set after a wrong password: the password field gets the
	// focus, the username stays.
	Retry bool
	// SSO labels the "Sign in with …" button ("" without SSO); SSOOnly
	// hides the password form.
	SSO     string
	SSOOnly bool
}

// nextOf is the sign-in form's return path: "" for the default.
func nextOf(v string) string {
	if n := safeNext(v); n != "/profile" {
		return n
	}
	return ""
}

// signinShow shows the sign-in form, or sends a signed-in user on.
func (h *Handler) signinShow(c *gin.Context) {
	if _, ok := currentUser(c); ok {
		c.Redirect(http.StatusSeeOther, safeNext(c.Query(nextField)))
		return
	}
	h.render(c, http.StatusOK, "signin", "Sign in", "signin", h.signinPage(signinData{Next: nextOf(c.Query(nextField))}))
}

// signinPage adds the single sign-on button to the sign-in page's data.
func (h *Handler) signinPage(d signinData) signinData {
	if h.sso != nil {
		d.SSO, d.SSOOnly = h.ssoName, h.ssoOnly
	}
	return d
}
