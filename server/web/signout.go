package web

import (
	"github.com/gin-gonic/gin"
)

// signout ends the session: the server forgets it, the browser its cookie.
func (h *Handler) signout(c *gin.Context) {
	if err := h.sessions.End(actor(c), currentSecret(c)); err != nil {
		h.fail(c, err)
		return
	}
	h.clearCookie(c, sessionCookie)
	h.redirect(c, "/signin", flash{Kind: "info", Text: "You have signed out."})
}
