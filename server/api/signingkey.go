package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/registryauth"
)

// SigningKeys rotates the registry token signing key (admin socket only);
// package app implements it over the store's shared secrets.
type SigningKeys interface {
	Status() (registryauth.KeyStatus, error)
	Rotate() (registryauth.KeyStatus, error)
	Activate() (registryauth.KeyStatus, error)
	Retire(force bool) (registryauth.KeyStatus, error)
}

// RetireRequest is the body of POST /admin/signing-key/retire.
type RetireRequest struct {
	// Force retires before every token of the previous key has expired.
	Force bool `json:"force"`
}

func (h *Handler) signingKeyRoutes(r gin.IRouter) {
	g := r.Group("/admin/signing-key")
	g.GET("", h.signingKeyStep(h.SigningKeys.Status))
	g.POST("/rotate", h.signingKeyStep(h.SigningKeys.Rotate))
	g.POST("/activate", h.signingKeyStep(h.SigningKeys.Activate))
	g.POST("/retire", func(c *gin.Context) {
		var req RetireRequest
		if c.Request.ContentLength != 0 && !decode(c, &req) {
			return
		}
		h.signingKeyStep(func() (registryauth.KeyStatus, error) { return h.SigningKeys.Retire(req.Force) })(c)
	})
}

// signingKeyStep answers with the key status after step, or 409 with
// the reason a step was refused.
func (h *Handler) signingKeyStep(step func() (registryauth.KeyStatus, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, err := step()
		var refused *registryauth.RefusedError
		switch {
		case errors.As(err, &refused):
			abort(c, http.StatusConflict, refused.Error())
		case err != nil:
			h.fail(c, err)
		default:
			c.JSON(http.StatusOK, st)
		}
	}
}
