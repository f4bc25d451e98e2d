package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/shared/apitypes"
)

// importUsers adopts users with their bcrypt hashes (admin socket only: a
// password hash is as good as a password to whoever can set one).
func (h *Handler) importUsers(c *gin.Context) {
	var req apitypes.ImportUsersRequest
	if !decode(c, &req) {
		return
	}
	results, err := h.Accounts.ImportUsers(actor(c), req.Users, req.DryRun)
	h.reply(c, http.StatusOK, apitypes.ImportUsersResponse{Results: results}, err)
}
