package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/portusproject/portus/server/model"
)

// usersData is what the users page shows.
type usersData struct {
	Users []model.User
	Me    string
	Form  userForm
	Error string
}

// userForm holds the create-user form's values for a second try (never
// the password).
type userForm struct {
	Name  string
	Admin bool
}

// usersShow lists the accounts for an administrator.
func (h *Handler) usersShow(c *gin.Context) {
	h.showUsers(c, http.StatusOK, usersData{})
}

func (h *Handler) showUsers(c *gin.Context, status int, d usersData) {
	users, err := h.accounts.Users()
	if err != nil {
		h.fail(c, err)
		return
	}
	p, _ := currentUser(c)
	d.Users, d.Me = users, p.Name()
	h.render(c, status, "users", "Users", "users", d)
}
