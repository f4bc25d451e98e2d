package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// signupData is what the sign-up page shows.
type signupData struct {
	Closed   bool // sign-up is turned off
	First    bool // no account exists yet: this one becomes the administrator
	Username string
	Error    string
}

// signupShow shows the sign-up form, or says that sign-up is off.
func (h *Handler) signupShow(c *gin.Context) {
	if _, ok := currentUser(c); ok {
		c.Redirect(http.StatusSeeOther, "/profile")
		return
	}
	if !h.signup {
		h.render(c, http.StatusForbidden, "signup", "Sign up", "signup", signupData{Closed: true})
		return
	}
	h.render(c, http.StatusOK, "signup", "Sign up", "signup", signupData{First: h.noUsers()})
}

// noUsers reports whether the server has no account yet. It reads every
// user, so once one exists the answer is kept: accounts are disabled,
// never deleted, and signed-out requests to / must not each decode the
// whole user list of a large installation.
func (h *Handler) noUsers() bool {
	if h.hasUsers.Load() {
		return false
	}
	users, err := h.accounts.Users()
	if err == nil && len(users) > 0 {
		h.hasUsers.Store(true)
	}
	return err == nil && len(users) == 0
}
