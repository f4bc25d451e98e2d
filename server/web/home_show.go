package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// homeShow sends people to their profile, or to the sign-in page; on a
// fresh server, which has no account yet, to the sign-up page, where the
// first account becomes the administrator.
func (h *Handler) homeShow(c *gin.Context) {
	if _, ok := currentUser(c); ok {
		c.Redirect(http.StatusSeeOther, "/profile")
		return
	}
	if h.signup && h.noUsers() {
		c.Redirect(http.StatusSeeOther, "/signup")
		return
	}
	c.Redirect(http.StatusSeeOther, "/signin")
}
