package web

import (
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"
)

// userCreate adds an account (an administrator's form).
func (h *Handler) userCreate(c *gin.Context) {
	form := userForm{Name: strings.TrimSpace(c.PostForm("username")), Admin: c.PostForm("admin") != ""}
	u, err := h.accounts.CreateUser(actor(c), form.Name, c.PostForm("password"), form.Admin, false)
	if err != nil {
		status, msg := h.explain(c, err)
		h.showUsers(c, status, usersData{Form: form, Error: msg})
		return
	}
	msg := fmt.Sprintf("User '%s' was created.", u.Name)
	if u.Admin {
		msg = fmt.Sprintf("User '%s' was created as an administrator.", u.Name)
	}
	h.redirect(c, "/admin/users", success(msg))
}
