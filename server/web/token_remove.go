package web

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/shared/apitypes"
)

// confirmData is what a confirmation page shows: a question, what follows,
// a button that posts to Action, and a way back.
type confirmData struct {
	Question string
	Detail   string
	Action   string
	Button   string
	Cancel   string
	// Return, when set, is posted as the form's "return" field: where to
	// go afterwards (see updateUser).
	Return string
}

// tokenRemoveConfirm asks before a token is removed; it works without
// JavaScript.
func (h *Handler) tokenRemoveConfirm(c *gin.Context) {
	p, _ := currentUser(c)
	t, ok := h.findToken(c, p.Name(), c.Param("id"))
	if !ok {
		return
	}
	h.render(c, http.StatusOK, "confirm", "Remove token", "profile", confirmData{
		Question: fmt.Sprintf("Remove the token '%s'?", t.Name),
		Detail:   "Whatever uses it — docker on a laptop, a CI job — can no longer sign in with it. This cannot be undone.",
		Action:   "/profile/tokens/" + t.ID + "/remove",
		Button:   "Remove token",
		Cancel:   "/profile",
	})
}

// tokenRemove revokes one of the signed-in user's tokens.
func (h *Handler) tokenRemove(c *gin.Context) {
	p, _ := currentUser(c)
	t, ok := h.findToken(c, p.Name(), c.Param("id"))
	if !ok {
		return
	}
	if err := h.accounts.RevokeToken(actor(c), p.Name(), t.ID); err != nil {
		h.fail(c, err)
		return
	}
	h.redirect(c, "/profile", success(fmt.Sprintf("Token '%s' was removed successfully.", t.Name)))
}

// findToken returns owner's token id, or renders a 404 page.
func (h *Handler) findToken(c *gin.Context, owner, id string) (apitypes.Token, bool) {
	tokens, ok := h.userTokens(c, owner)
	if !ok {
		return apitypes.Token{}, false
	}
	for _, t := range tokens {
		if t.ID == id {
			return t, true
		}
	}
	h.errorPage(c, http.StatusNotFound, "No such token",
		"That token does not exist: it may have been removed already. Go back to the list and reload it.")
	return apitypes.Token{}, false
}
