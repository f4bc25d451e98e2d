package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/shared/apitypes"
)

// leakedAnswer is the answer to every well-formed report: the same words
// whether or not a token matched, so the endpoint tells nothing.
const leakedAnswer = "thank you: every live Portus token among those reported is now revoked, and its owner has been told where it was found"

// revokeLeaked takes a leak report from anyone (no authentication) and
// revokes the live tokens in it: POST /api/v1/tokens/revoke-leaked.
func (h *Handler) revokeLeaked(c *gin.Context) {
	var req apitypes.RevokeLeakedRequest
	if !decode(c, &req) {
		return
	}
	err := h.Accounts.RevokeLeaked(c.ClientIP(), req.Tokens, req.Source)
	h.reply(c, http.StatusAccepted, apitypes.RevokeLeakedResponse{Message: leakedAnswer}, err)
}
