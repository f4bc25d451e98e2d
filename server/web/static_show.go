package web

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"
)

//go:embed static
var staticFS embed.FS

var staticFiles = func() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	return http.FileServerFS(sub)
}()

// staticShow serves the embedded style sheet and script.
func (h *Handler) staticShow(c *gin.Context) {
	file := c.Param("file")
	if file == "/" || file == "" {
		c.Status(http.StatusNotFound)
		return
	}
	c.Header("Cache-Control", "public, max-age=3600")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Request.URL.Path = file
	staticFiles.ServeHTTP(c.Writer, c.Request)
}
