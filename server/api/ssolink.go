package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
)

// linkUserSSO answers POST /api/v1/users/{name}/sso-link (portus user
// link-sso): the next single sign-on with this name may use the account.
func (h *Handler) linkUserSSO(c *gin.Context) {
	u, err := h.Accounts.LinkSSO(actor(c), c.Param("name"))
	h.reply(c, http.StatusOK, account.WireUser(u), err)
}
