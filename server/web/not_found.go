package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// Fallbacks answers what no route matches: a page in the site's style for
// people (404, and 405 for a known page asked with the wrong method), and
// the plain 404 as before for the API, the registry endpoint and the
// other machine paths. It sets the engine's handlers, so call it once,
// after every surface has registered its routes.
func (h *Handler) Fallbacks(e *gin.Engine) {
	e.HandleMethodNotAllowed = true
	e.NoRoute(securityHeaders, h.loadSession, h.notFound)
	e.NoMethod(securityHeaders, h.loadSession, h.methodNotAllowed)
}

// machinePath reports whether a path belongs to a surface for programs,
// whose clients expect gin's plain answers.
func machinePath(p string) bool {
	for _, prefix := range []string{"/api/", "/v2/", "/healthz", "/metrics", "/.well-known/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

func (h *Handler) notFound(c *gin.Context) {
	if machinePath(c.Request.URL.Path) {
		c.String(http.StatusNotFound, "404 page not found")
		return
	}
	h.errorPage(c, http.StatusNotFound, "Page not found",
		"There is no page at this address. It may have been mistyped, or the page may have moved. Start again from your profile.")
}

func (h *Handler) methodNotAllowed(c *gin.Context) {
	if machinePath(c.Request.URL.Path) {
		c.String(http.StatusNotFound, "404 page not found") // as before 405s were told apart
		return
	}
	h.errorPage(c, http.StatusMethodNotAllowed, "Not possible here",
		"This page cannot be used that way (a form may have been sent to the wrong address). Go back and use the page's own buttons.")
}
