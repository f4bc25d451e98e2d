package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/shared/apitypes"
)

// userTokenRevokeConfirm asks an administrator before revoking a user's
// token.
func (h *Handler) userTokenRevokeConfirm(c *gin.Context) {
	name := c.Param("name")
	t, ok := h.findToken(c, name, c.Param("id"))
	if !ok {
		return
	}
	h.render(c, http.StatusOK, "confirm", "Revoke token", "users", confirmData{
		Question: fmt.Sprintf("Revoke %s's token '%s'?", name, t.Name),
		Detail:   "Whatever uses it stops working at once. The user can create a new token on their profile page.",
		Action:   userPath(name) + "/tokens/" + t.ID + "/revoke",
		Button:   "Revoke token",
		Cancel:   userPath(name),
	})
}

// userTokenRevoke revokes one token of a user.
func (h *Handler) userTokenRevoke(c *gin.Context) {
	name := c.Param("name")
	t, ok := h.findToken(c, name, c.Param("id"))
	if !ok {
		return
	}
	if err := h.accounts.RevokeToken(actor(c), name, t.ID); err != nil {
		h.fail(c, err)
		return
	}
	h.redirect(c, userPath(name), success(fmt.Sprintf("Token '%s' of %s was revoked.", t.Name, name)))
}

// userTokensRevokeAllConfirm asks before revoking all of a user's tokens.
func (h *Handler) userTokensRevokeAllConfirm(c *gin.Context) {
	name := c.Param("name")
	tokens, ok := h.userTokens(c, name)
	if !ok {
		return
	}
	h.render(c, http.StatusOK, "confirm", "Revoke all tokens", "users", confirmData{
		Question: fmt.Sprintf("Revoke all %d application tokens of %s?", len(tokens), name),
		Detail:   "Everything that signs in with them stops working at once. The user's password and web sessions stay as they are.",
		Action:   userPath(name) + "/revoke-all",
		Button:   "Revoke all tokens",
		Cancel:   userPath(name),
	})
}

// userTokensRevokeAll revokes every token of a user.
func (h *Handler) userTokensRevokeAll(c *gin.Context) {
	name := c.Param("name")
	if _, ok := h.userTokens(c, name); !ok {
		return
	}
	n, err := h.accounts.RevokeAllTokens(actor(c), name)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.redirect(c, userPath(name), success(fmt.Sprintf("All tokens of %s were revoked (%d).", name, n)))
}

// userTokens returns a user's tokens, or renders the 404 page.
func (h *Handler) userTokens(c *gin.Context, name string) ([]apitypes.Token, bool) {
	tokens, err := h.accounts.Tokens(name)
	if errors.Is(err, account.ErrNotFound) {
		h.userNotFound(c)
		return nil, false
	}
	if err != nil {
		h.fail(c, err)
		return nil, false
	}
	return tokens, true
}
