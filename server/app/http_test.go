package app

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/shared/apptoken"
)

// TestPanicLogRedactsTokens: a handler that panics on a path holding an
// application token answers 500 and logs neither the token nor its random
// part, in the panic line or the access line.
func TestPanicLogRedactsTokens(t *testing.T) {
	logs := &bytes.Buffer{} // ServeHTTP runs the handler on this goroutine
	e, err := newEngine(slog.New(slog.NewTextHandler(logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.GET("/boom/*rest", func(c *gin.Context) { panic("cannot handle " + c.Request.URL.Path) })
	tok, err := apptoken.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/boom/" + tok, "/boom/x/" + tok + "/y", "/boom/" + tok + tok} {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), tok[4:]) {
			t.Errorf("GET %s: %d %s, want 500 without the token", path[:12], w.Code, w.Body)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "panic while serving a request") || !strings.Contains(out, "/boom/"+apptoken.Prefix+"[redacted]") {
		t.Fatalf("the panic was not logged with a redacted path:\n%s", out)
	}
	if strings.Contains(out, tok[len(apptoken.Prefix):len(apptoken.Prefix)+24]) {
		t.Errorf("the log holds the token's random part:\n%s", out)
	}
}
