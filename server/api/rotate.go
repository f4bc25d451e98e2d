package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Rotation answers as token creation does: 201 with the new secret, shown
// this once, and the same id, name and scope.

// rotateCurrentToken rotates the application token that authenticated the
// request: how the credential helper renews its own token.
func (h *Handler) rotateCurrentToken(c *gin.Context) {
	p := principal(c)
	if p.Token == nil {
		abort(c, http.StatusBadRequest, "authenticate with the application token you want to rotate (as the password, or Bearer), or use POST /api/v1/tokens/{id}/rotate with your password")
		return
	}
	if h.refuseReplaced(c, p) {
		return
	}
	created, err := h.Accounts.RotateCurrent(p, c.ClientIP())
	h.answerRotated(c, created, err)
}

func (h *Handler) rotateOwnToken(c *gin.Context) {
	if name, ok := callerName(c, "the admin socket has no tokens of its own; use /api/v1/users/{name}/tokens/{id}/rotate"); ok {
		h.rotate(c, name, c.Param("id"))
	}
}

func (h *Handler) rotateUserToken(c *gin.Context) { h.rotate(c, c.Param("name"), c.Param("id")) }

func (h *Handler) rotate(c *gin.Context, owner, id string) {
	created, err := h.Accounts.Rotate(actor(c), owner, id)
	h.answerRotated(c, created, err)
}

func (h *Handler) answerRotated(c *gin.Context, created any, err error) {
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, created)
}
