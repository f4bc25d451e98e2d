package web

import (
	"errors"
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
)

// userPasswordSet gives a user a new password for an administrator (a
// reset): the user's web sessions end and their sign-in lock is lifted;
// their application tokens keep working.
func (h *Handler) userPasswordSet(c *gin.Context) {
	name := c.Param("name")
	next := c.PostForm("new_password")
	back := userPath(name) + "#password"
	if next != c.PostForm("new_password_confirmation") {
		h.redirect(c, back, flash{Kind: "error", Text: "The two new passwords differ, so nothing was changed. Type the same new password twice."})
		return
	}
	_, err := h.accounts.UpdateUser(actor(c), name, account.UserChange{Password: &next, Unlock: true})
	var field *account.FieldError
	switch {
	case errors.As(err, &field):
		h.redirect(c, back, flash{Kind: "error", Text: "New password " + field.Message + ", so nothing was changed."})
		return
	case errors.Is(err, account.ErrNotFound):
		h.userNotFound(c)
		return
	case err != nil:
		h.fail(c, err)
		return
	}
	h.redirect(c, userPath(name), success(fmt.Sprintf("User '%s' has a new password. Their browsers were signed out; their application tokens still work. Tell them the password by a safe way, and ask them to change it.", name)))
}

// userUnlock lifts the sign-in lock that failed passwords put on a user.
func (h *Handler) userUnlock(c *gin.Context) {
	h.updateUser(c, account.UserChange{Unlock: true}, "User '%s' can sign in again: the lock after failed passwords was lifted.", "")
}
