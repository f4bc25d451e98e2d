package web_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
)

func TestCookieFlags(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	form := b.get("/signin")
	checkCookie(t, form.Header, "portus_csrf", false)
	p := b.do(http.MethodPost, "/signin", url.Values{"csrf_token": {form.csrf(t)}, "username": {"alice"}, "password": {"alice-password"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign-in = %s", p)
	}
	ck := checkCookie(t, p.Header, "portus_session", false)
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(raw) != 32 {
		t.Errorf("session cookie %q is not 32 random bytes in base64url", ck.Value)
	}
	if ck.MaxAge != int((7 * 24 * time.Hour).Seconds()) {
		t.Errorf("session cookie Max-Age = %d, want the 7-day session limit", ck.MaxAge)
	}

	// Served as https (by URL or by TLS): Secure.
	for name, change := range map[string]func(*config.Config){
		"https URL": func(c *config.Config) { c.URL = "https://portus.example.com" },
		// The files are only read by Serve, which this test does not run.
		"TLS served": func(c *config.Config) { c.TLSCert, c.TLSKey = "cert.pem", "key.pem" },
	} {
		t.Run(name, func(t *testing.T) {
			base := startWith(t, change)
			b := newBrowser(t, base)
			form := b.get("/signup")
			checkCookie(t, form.Header, "portus_csrf", true)
			p := b.do(http.MethodPost, "/signup", url.Values{"csrf_token": {form.csrf(t)}, "username": {"alice"}, "password": {"alice-password"}, "password_confirmation": {"alice-password"}})
			if p.Status != http.StatusSeeOther {
				t.Fatalf("sign-up = %s", p)
			}
			checkCookie(t, p.Header, "portus_session", true)
		})
	}
}

// checkCookie finds a Set-Cookie and checks the flags every Portus cookie
// has.
func checkCookie(t *testing.T, h http.Header, name string, secure bool) *http.Cookie {
	t.Helper()
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name != name {
			continue
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != secure {
			t.Errorf("cookie %s: HttpOnly=%v SameSite=%v Path=%q Secure=%v; want HttpOnly, Lax, /, Secure=%v",
				name, ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure, secure)
		}
		return ck
	}
	t.Fatalf("no Set-Cookie %s in %v", name, h["Set-Cookie"])
	return nil
}

func TestSecurityHeaders(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", true)
	b := newBrowser(t, s.URL)
	pages := map[string]*page{"/signin": b.get("/signin")}
	b.signIn("alice", "alice-password")
	for _, path := range []string{"/profile", "/activity", "/admin/users", "/admin/users/alice"} {
		pages[path] = b.get(path)
	}
	pages["token created"], _ = b.createToken("ci", "push")
	for name, p := range pages {
		if p.Status != http.StatusOK {
			t.Errorf("%s: %s", name, p)
			continue
		}
		for header, want := range map[string]string{
			"Cache-Control":          "no-store",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
			"X-Content-Type-Options": "nosniff",
		} {
			if got := p.Header.Get(header); got != want {
				t.Errorf("%s: %s = %q, want %q", name, header, got, want)
			}
		}
		csp := p.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", name, csp, want)
			}
		}
		if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " style=") || strings.Contains(p.Body, "//cdn") {
			t.Errorf("%s has an inline script or style, or an external resource", name)
		}
	}
	for _, f := range []string{"/static/portus.css", "/static/portus.js"} {
		p := b.get(f)
		if p.Status != http.StatusOK || len(p.Body) < 100 {
			t.Errorf("GET %s = %d, %d bytes", f, p.Status, len(p.Body))
		}
	}
}
