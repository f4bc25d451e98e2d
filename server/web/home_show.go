package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// homeShow sends people to their profile, or to the sign-in page.
func (h *Handler) homeShow(c *gin.Context) {
	if _, ok := currentUser(c); ok {
		c.Redirect(http.StatusSeeOther, "/profile")
		return
	}
	c.Redirect(http.StatusSeeOther, "/signin")
}
