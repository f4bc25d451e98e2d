package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/httperr"
	"github.com/portusproject/portus/server/model"
)

//go:embed templates/*.html templates/partials/*.html
var templateFS embed.FS

// layoutFile holds the "layout" template every page fills with its
// "content"; the files in templates/partials hold templates that pages
// share, such as "token-table".
const (
	layoutFile   = "templates/layout.html"
	partialFiles = "templates/partials/*.html"
)

var funcs = template.FuncMap{
	"when": when,
	"iso":  iso,
	// Relative times and clients of the token table (token_expiry.go).
	"since":      since,
	"clientName": clientName,
}

// when formats a time for people: UTC, to the minute; "never" for nil.
func when(v any) string {
	switch t := v.(type) {
	case time.Time:
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if t == nil {
			return "never"
		}
		return when(*t)
	}
	return ""
}

// iso formats a time for a <time datetime> attribute.
func iso(v any) string {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format(time.RFC3339)
	case *time.Time:
		if t != nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return ""
}

// parseTemplates parses every page with the layout and the partials. Each
// page must define "content"; a page that does not, or does not parse, is
// an error.
func parseTemplates(fsys fs.FS) (map[string]*template.Template, error) {
	files, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	partials, err := fs.Glob(fsys, partialFiles)
	if err != nil {
		return nil, err
	}
	shared := append([]string{layoutFile}, partials...)
	pages := map[string]*template.Template{}
	for _, f := range files {
		if f == layoutFile {
			continue
		}
		t, err := template.New(path.Base(f)).Funcs(funcs).ParseFS(fsys, slices.Concat(shared, []string{f})...)
		if err != nil {
			return nil, err
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("%s defines no \"content\" template", f)
		}
		pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	for _, need := range []string{"error", "signin"} {
		if pages[need] == nil {
			return nil, fmt.Errorf("templates/%s.html is missing", need)
		}
	}
	return pages, nil
}

// view is what every page template receives.
type view struct {
	Title   string
	Nav     string // the nav entry to mark as current
	User    *model.User
	CSRF    string
	Flashes []flash
	Signup  bool
	Data    any
}

// render executes a page into a buffer and sends it, so that a template
// error gives a clean 500 instead of half a page.
func (h *Handler) render(c *gin.Context, status int, page, title, nav string, data any) {
	t, ok := h.pages[page]
	if !ok {
		h.log.Error("no such page template", "page", page)
		c.String(http.StatusInternalServerError, "internal server error")
		return
	}
	v := view{Title: title, Nav: nav, Flashes: append(h.takeFlash(c), flashesNow(c)...), Signup: h.signup, Data: data}
	if p, ok := currentUser(c); ok {
		u := p.User
		v.User = &u
		if sess, ok := currentSession(c); ok {
			v.CSRF = sess.CSRFToken
		}
	} else {
		v.CSRF = h.preSessionToken(c)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.Error("rendering a page failed", "page", page, "err", err)
		c.String(http.StatusInternalServerError, "internal server error; the server log has the details")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

const flashNowKey = "portus.web.flash"

// flashNow adds a message to the page this request renders (rather than
// the next one, as redirect does).
func flashNow(c *gin.Context, f flash) {
	c.Set(flashNowKey, append(flashesNow(c), f))
}

func flashesNow(c *gin.Context) []flash {
	v, _ := c.Get(flashNowKey)
	f, _ := v.([]flash)
	return f
}

// errorPage renders a page that explains what went wrong and what to do.
func (h *Handler) errorPage(c *gin.Context, status int, title, message string) {
	h.render(c, status, "error", title, "", struct{ Message string }{message})
}

// fail renders the error page that fits err; see explain.
func (h *Handler) fail(c *gin.Context, err error) {
	status, msg := h.explain(c, err)
	title := http.StatusText(status)
	if status == http.StatusTooManyRequests {
		title = "Please wait"
	}
	h.errorPage(c, status, title, msg)
}

// explain gives the status and the page's sentence for err (see
// httperr.Explain), setting Retry-After where it applies. Anything
// unexpected is logged and explained vaguely.
func (h *Handler) explain(c *gin.Context, err error) (int, string) {
	p := httperr.Explain(err)
	if p.Log != "" {
		h.log.Error(p.Log, "method", c.Request.Method, "path", c.FullPath(), "err", err)
	}
	if p.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	return p.Status, p.Page
}
