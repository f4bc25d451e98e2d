package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// signinData is what the sign-in page shows.
type signinData struct {
	Username string
	Error    string
}

// signinShow shows the sign-in form, or sends a signed-in user on.
func (h *Handler) signinShow(c *gin.Context) {
	if _, ok := currentUser(c); ok {
		c.Redirect(http.StatusSeeOther, "/profile")
		return
	}
	h.render(c, http.StatusOK, "signin", "Sign in", "signin", signinData{})
}
