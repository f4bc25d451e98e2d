package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/shared/apitypes"
)

// linkUserSSO answers POST /api/v1/users/{name}/sso-link (portus user
// link-sso): the next single sign-on with this name may use the account.
func (h *Handler) linkUserSSO(c *gin.Context) {
	var req apitypes.LinkSSORequest
	// The API's one JSON reading (JSON only, size cap, no unknown
	// fields), for a body that may be left out.
	if c.Request.ContentLength != 0 && !decode(c, &req) {
		return
	}
	u, err := h.Accounts.LinkSSO(actor(c), c.Param("name"), req.Subject)
	h.reply(c, http.StatusOK, account.WireUser(u), err)
}
