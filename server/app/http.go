package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/api"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// newEngine returns a gin engine with Portus's logging and recovery.
func newEngine(log *slog.Logger, trustedProxies []string) (*gin.Engine, error) {
	e := gin.New()
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(trustedProxies); err != nil {
		return nil, err
	}
	e.Use(accessLog(log), recovery(log))
	return e, nil
}

// accessLog logs one line per request. It logs the path without the query
// string and never a header, so no credential reaches the log.
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !log.Enabled(c.Request.Context(), slog.LevelInfo) {
			c.Next() // --log-level warn: no clock reads, no client IP
			return
		}
		start := time.Now()
		c.Next()
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
			slog.String("method", c.Request.Method),
			slog.String("path", redactPath(c.Request.URL.Path)),
			slog.Int("status", c.Writer.Status()),
			slog.Duration("duration", time.Since(start)),
			slog.String("client_ip", c.ClientIP()),
		)
	}
}

// redactPath hides an application token pasted into a URL path, so that
// it does not reach the log. The match runs on through underscores, so a
// second token glued to the first ("ptk_…ptk_…") is hidden with it.
func redactPath(path string) string {
	if !strings.Contains(path, apptoken.Prefix) {
		return path
	}
	return tokenInPath.ReplaceAllString(path, apptoken.Prefix+"[redacted]")
}

var tokenInPath = regexp.MustCompile(apptoken.Prefix + `[0-9A-Za-z_]*`)

// recovery turns a panic into a 500 and logs the stack, not the request:
// gin's own recovery would dump headers. The path and the panic's message
// are redacted as in the access log: either may hold a pasted token.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic while serving a request", "method", c.Request.Method, "path", redactPath(c.Request.URL.Path),
					"panic", redactPath(fmt.Sprint(r)), "stack", string(debug.Stack()))
				c.AbortWithStatusJSON(http.StatusInternalServerError, apitypes.Error{Message: "internal server error; the server log has the details"})
			}
		}()
		c.Next()
	}
}

// AdminHandler is the JSON API as served on the admin socket, where the
// caller is trusted as an administrator. The offline admin commands serve
// the same handler in memory, so both paths run the same code.
func AdminHandler(core *Core, log *slog.Logger) (http.Handler, error) {
	e, err := newEngine(log, nil)
	if err != nil {
		return nil, err
	}
	h := &api.Handler{Accounts: core.Accounts, Backup: core.Store.Backup, SigningKeys: signingKeys{core}, Log: log}
	h.AdminRoutes(e)
	return e, nil
}
