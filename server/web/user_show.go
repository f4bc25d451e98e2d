package web

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
)

// userData is what an administrator sees of one user.
type userData struct {
	Subject model.User
	Table   tokenTable
	Me      string
	// DockerLogin is the user's docker_login policy and who set it;
	// Choices the administrator's options.
	DockerLogin account.DockerLoginState
	Choices     []option
}

// userShow shows a user and their tokens to an administrator.
func (h *Handler) userShow(c *gin.Context) {
	u, err := h.accounts.UserLookup(c.Param("name"))
	if errors.Is(err, account.ErrNotFound) {
		h.userNotFound(c)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	tokens, err := h.accounts.Tokens(u.Name)
	if err != nil {
		h.fail(c, err)
		return
	}
	p, _ := currentUser(c)
	u.PasswordHash = ""
	h.render(c, http.StatusOK, "user", "User "+u.Name, "users", userData{
		Subject: u, Table: userTokenTable(u.Name, tokens, h.maxTokens), Me: p.Name(),
		DockerLogin: h.accounts.DockerLoginOf(u), Choices: dockerLoginChoices,
	})
}
