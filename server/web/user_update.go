package web

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
)

// userDisable disables an account: its sessions end and its tokens stop
// working at once.
func (h *Handler) userDisable(c *gin.Context) {
	h.updateUser(c, account.UserChange{Disabled: ptr(true)}, "User '%s' was disabled. Their sessions ended and their tokens no longer work.",
		"You cannot disable your own account. Ask another administrator.")
}

// userDisableConfirm asks before disabling an account, as every
// destructive action of the administrators' pages does.
func (h *Handler) userDisableConfirm(c *gin.Context) {
	name := c.Param("name")
	tokens, ok := h.userTokens(c, name)
	if !ok {
		return
	}
	d := confirmData{
		Question: fmt.Sprintf("Disable %s?", name),
		Detail: fmt.Sprintf("%s can no longer sign in, their web sessions end, and their %d application tokens stop working at once. "+
			"You can enable the account again later; nothing is deleted.", name, len(tokens)),
		Action: userPath(name) + "/disable",
		Button: "Disable " + name,
		Cancel: "/admin/users",
	}
	if c.Query("return") == "user" {
		d.Cancel, d.Return = userPath(name), "user"
	}
	h.render(c, http.StatusOK, "confirm", "Disable "+name, "users", d)
}

// userEnable enables a disabled account again.
func (h *Handler) userEnable(c *gin.Context) {
	h.updateUser(c, account.UserChange{Disabled: ptr(false)}, "User '%s' was enabled.", "")
}

// userGrantAdmin makes a user an administrator.
func (h *Handler) userGrantAdmin(c *gin.Context) {
	h.updateUser(c, account.UserChange{Admin: ptr(true)}, "User '%s' is now an administrator.", "")
}

// userRevokeAdmin makes an administrator a normal user.
func (h *Handler) userRevokeAdmin(c *gin.Context) {
	h.updateUser(c, account.UserChange{Admin: ptr(false)}, "User '%s' is no longer an administrator.",
		"You cannot remove your own administrator rights. Ask another administrator.")
}

// updateUser applies change to the user named in the URL. notSelf, when
// set, is the refusal for administrators acting on themselves, so that
// nobody locks themselves out.
func (h *Handler) updateUser(c *gin.Context, change account.UserChange, done, notSelf string) {
	name := c.Param("name")
	back := "/admin/users"
	if c.PostForm("return") == "user" {
		back = userPath(name)
	}
	if p, _ := currentUser(c); notSelf != "" && p.Name() == name {
		h.redirect(c, back, flash{Kind: "error", Text: notSelf})
		return
	}
	u, err := h.accounts.UpdateUser(actor(c), name, change)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.redirect(c, back, success(fmt.Sprintf(done, u.Name)))
}

func ptr[T any](v T) *T { return &v }

// userPath is the administrators' page of a user. Usernames are made of
// [a-z0-9._-], which need no escaping in a path.
func userPath(name string) string { return "/admin/users/" + name }

// userNotFound renders the 404 page for an unknown user.
func (h *Handler) userNotFound(c *gin.Context) {
	h.errorPage(c, http.StatusNotFound, "No such user", "There is no user by that name. Go back to the list of users.")
}
