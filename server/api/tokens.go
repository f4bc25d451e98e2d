package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/shared/apitypes"
)

// callerName is the owner for the routes about the caller's own tokens.
// The admin socket has no user of its own: it gets a 400 whose message,
// refusal, names the route to use instead.
func callerName(c *gin.Context, refusal string) (string, bool) {
	p := principal(c)
	if p.Local {
		abort(c, http.StatusBadRequest, refusal)
		return "", false
	}
	return p.Name(), true
}

func (h *Handler) listOwnTokens(c *gin.Context) {
	if name, ok := callerName(c, "the admin socket has no tokens of its own; use /api/v1/users/{name}/tokens"); ok {
		h.listTokens(c, name)
	}
}

func (h *Handler) listUserTokens(c *gin.Context) { h.listTokens(c, c.Param("name")) }

func (h *Handler) listTokens(c *gin.Context, owner string) {
	list, err := h.Accounts.Tokens(owner)
	h.reply(c, http.StatusOK, list, err)
}

func (h *Handler) createOwnToken(c *gin.Context) {
	if name, ok := callerName(c, "the admin socket has no user; use /api/v1/users/{name}/tokens"); ok {
		h.createToken(c, name)
	}
}

func (h *Handler) createUserToken(c *gin.Context) { h.createToken(c, c.Param("name")) }

func (h *Handler) createToken(c *gin.Context, owner string) {
	var req apitypes.CreateTokenRequest
	if !decode(c, &req) {
		return
	}
	via := apitypes.ViaAPI
	switch {
	case principal(c).Local:
		via = apitypes.ViaCLI
	case req.CreatedVia == apitypes.ViaHelper:
		via = apitypes.ViaHelper
	}
	created, err := h.Accounts.CreateToken(actor(c), owner, account.NewToken{
		Name: req.Name, Scope: req.Scope, ExpiresAt: req.ExpiresAt, Replace: req.Replace, Via: via,
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, created)
}

// revokeCurrentToken revokes the application token that authenticated the
// request: how the credential helper logs out.
func (h *Handler) revokeCurrentToken(c *gin.Context) {
	p := principal(c)
	if p.Token == nil {
		abort(c, http.StatusBadRequest, "authenticate with the application token you want to revoke (as the password), or use DELETE /api/v1/tokens/{id}")
		return
	}
	if !h.refuseReplaced(c, p) {
		h.revoke(c, p.Name(), p.Token.ID)
	}
}

// refuseReplaced answers 409 to a token-self action authenticated by a
// secret that a rotation replaced (still in its grace, so it signs in):
// it may finish jobs, not manage the token, or an old copy could revoke
// the live secret. It reports whether it refused.
func (h *Handler) refuseReplaced(c *gin.Context, p account.Principal) bool {
	if p.Token == nil || !p.Token.Retired {
		return false
	}
	h.fail(c, account.ErrReplacedSecret)
	return true
}

func (h *Handler) revokeOwnToken(c *gin.Context) {
	p := principal(c)
	id := c.Param("id")
	if p.Token != nil && p.Token.ID != id {
		abort(c, http.StatusForbidden, "an application token can only revoke itself; use your password to revoke other tokens")
		return
	}
	if h.refuseReplaced(c, p) {
		return
	}
	if name, ok := callerName(c, "the admin socket has no tokens of its own; use /api/v1/users/{name}/tokens/{id}"); ok {
		h.revoke(c, name, id)
	}
}

func (h *Handler) revokeUserToken(c *gin.Context) { h.revoke(c, c.Param("name"), c.Param("id")) }

func (h *Handler) revoke(c *gin.Context, owner, id string) {
	if err := h.Accounts.RevokeToken(actor(c), owner, id); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
