package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
)

// passwordUpdate changes the signed-in user's password. It revokes tokens
// only when asked to. Every session of the user ends; this browser gets a
// new one.
func (h *Handler) passwordUpdate(c *gin.Context) {
	p, _ := currentUser(c)
	current := c.PostForm("current_password")
	next := c.PostForm("new_password")
	revoke := c.PostForm("revoke_tokens") != ""
	again := func(status int, field, msg string) {
		h.showProfile(c, status, profileData{PasswordError: msg, PasswordField: field})
	}
	if current == "" {
		again(http.StatusBadRequest, "current_password", "Enter your current password.")
		return
	}
	if next != c.PostForm("new_password_confirmation") {
		again(http.StatusBadRequest, "new_password_confirmation", "The two new passwords differ. Type the same new password twice.")
		return
	}
	revoked, err := h.accounts.ChangePassword(actor(c), p.Name(), current, next, revoke)
	var field *account.FieldError
	switch {
	case errors.Is(err, account.ErrAuthFailed):
		again(http.StatusUnauthorized, "current_password", "Your current password is not correct, so nothing was changed.")
		return
	case errors.As(err, &field):
		again(http.StatusBadRequest, "new_password", "New password "+field.Message+".")
		return
	case err != nil:
		status, msg := h.explain(c, err)
		again(status, "current_password", msg)
		return
	}
	if !h.startSession(c, p) {
		return
	}
	msgs := []flash{success("Your password was changed. Browsers signed in with the old one were signed out.")}
	if revoke {
		msgs = append(msgs, success(fmt.Sprintf("All your application tokens were revoked (%d). Create new ones where you need them.", revoked)))
	}
	h.redirect(c, "/profile#top", msgs...) // #top: not the form's #password-title
}
