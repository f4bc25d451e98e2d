package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/shared/apitypes"
)

func (h *Handler) listUsers(c *gin.Context) {
	users, err := h.Accounts.Users()
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]apitypes.User, 0, len(users))
	for _, u := range users {
		out = append(out, account.WireUser(u))
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handler) showUser(c *gin.Context) {
	u, err := h.Accounts.UserLookup(c.Param("name"))
	h.reply(c, http.StatusOK, account.WireUser(u), err)
}

func (h *Handler) createUser(c *gin.Context) {
	var req apitypes.CreateUserRequest
	if !decode(c, &req) {
		return
	}
	u, err := h.Accounts.CreateUser(actor(c), req.Name, req.Password, req.Admin, false)
	h.reply(c, http.StatusCreated, account.WireUser(u), err)
}

func (h *Handler) updateUser(c *gin.Context) {
	var req apitypes.UpdateUserRequest
	if !decode(c, &req) {
		return
	}
	u, err := h.Accounts.UpdateUser(actor(c), c.Param("name"), account.UserChange{Admin: req.Admin, Disabled: req.Disabled, DockerLogin: req.DockerLogin, Unlock: req.Unlock})
	h.reply(c, http.StatusOK, account.WireUser(u), err)
}

// setUserPassword resets a user's password for an administrator (portus
// user set-password): a route of its own, not a PATCH field, so that no
// generic update sets a password by accident.
func (h *Handler) setUserPassword(c *gin.Context) {
	var req apitypes.SetPasswordRequest
	if !decode(c, &req) {
		return
	}
	u, err := h.Accounts.UpdateUser(actor(c), c.Param("name"), account.UserChange{Password: &req.Password, Unlock: true})
	h.reply(c, http.StatusOK, account.WireUser(u), err)
}

// showCaller answers GET /api/v1/user with the authenticated user.
func (h *Handler) showCaller(c *gin.Context) {
	if _, ok := callerName(c, "the admin socket has no user of its own; use /api/v1/users/{name}"); ok {
		c.JSON(http.StatusOK, account.WireUser(principal(c).User))
	}
}
