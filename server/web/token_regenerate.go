package web

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
)

// tokenRegenerateConfirm asks before a token gets a new secret; it works
// without JavaScript.
func (h *Handler) tokenRegenerateConfirm(c *gin.Context) {
	p, _ := currentUser(c)
	t, ok := h.findToken(c, p.Name(), c.Param("id"))
	if !ok {
		return
	}
	h.render(c, http.StatusOK, "confirm", "Regenerate token", "profile", confirmData{
		Question: fmt.Sprintf("Regenerate the token '%s'?", t.Name),
		Detail: fmt.Sprintf("It keeps its name, scope and place, and gets a new secret, shown once on the next page. "+
			"The current secret keeps working for %s, so that running jobs can finish; then only the new one works. "+
			"Put the new secret wherever the old one is used.", graceWords(h.accounts.RotationGrace().String())),
		Action: "/profile/tokens/" + t.ID + "/regenerate",
		Button: "Regenerate token",
		Cancel: "/profile",
	})
}

// graceWords says how long the grace is, "0s" as "no time at all".
func graceWords(d string) string {
	if d == "0s" {
		return "no time at all"
	}
	return d
}

// tokenRegenerate rotates one of the signed-in user's tokens and shows the
// new secret once, as tokenCreate shows a new token (see justCreated).
func (h *Handler) tokenRegenerate(c *gin.Context) {
	p, _ := currentUser(c)
	t, ok := h.findToken(c, p.Name(), c.Param("id"))
	if !ok {
		return
	}
	rotated, err := h.accounts.Rotate(actor(c), p.Name(), t.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	old := fmt.Sprintf("The old one keeps working for %s.", h.accounts.RotationGrace())
	if h.accounts.RotationGrace() == 0 {
		old = "The old one no longer works."
	}
	h.showOnce(c, rotated, success(fmt.Sprintf("Token '%s' has a new secret. %s", rotated.Name, old)))
}
