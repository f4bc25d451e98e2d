package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
)

// signupSave creates an account and signs it in. On a server without
// accounts, the first one becomes the administrator. Past the address's
// sign-up limit it answers 429 with Retry-After, on the form.
func (h *Handler) signupSave(c *gin.Context) {
	if !h.signup {
		h.render(c, http.StatusForbidden, "signup", "Sign up", "signup", signupData{Closed: true})
		return
	}
	name := strings.TrimSpace(c.PostForm("username"))
	password := c.PostForm("password")
	again := func(status int, msg string) {
		h.render(c, status, "signup", "Sign up", "signup", signupData{First: h.noUsers(), Username: name, Error: msg})
	}
	if password != c.PostForm("password_confirmation") {
		again(http.StatusBadRequest, "The two passwords differ. Type the same password twice.")
		return
	}
	// SignUp limits attempts per address and refuses a taken name like a
	// reserved one, so that this form does not tell who has an account.
	u, err := h.accounts.SignUp(account.Actor{Name: name, IP: c.ClientIP()}, name, password)
	if err != nil {
		status, msg := h.explain(c, err)
		again(status, msg)
		return
	}
	if !h.startSession(c, account.Principal{User: u}) {
		return
	}
	msg := "Welcome, " + u.Name + ". Your account was created."
	if u.Admin {
		msg = "Welcome, " + u.Name + ". Yours is the first account, so you are the administrator of this Portus server."
	}
	h.redirect(c, "/profile", success(msg))
}
