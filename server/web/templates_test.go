package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/web"
)

func TestInjectionIsEscaped(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", true)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	const evil = `<script>alert(1)</script>"><img src=x onerror=alert(2)>'`
	created, _ := b.createToken(evil, "push")
	for name, p := range map[string]*page{
		"created": created, "profile": b.get("/profile"), "activity": b.get("/activity"),
		"admin user": b.get("/admin/users/alice"),
	} {
		if strings.Contains(p.Body, "<script>alert") || strings.Contains(p.Body, "<img src=x") {
			t.Errorf("%s page has the token name unescaped", name)
		}
		if !strings.Contains(p.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s page does not show the token name escaped", name)
		}
	}
	// A username that breaks the rules is echoed in the form, escaped.
	anon := newBrowser(t, s.URL)
	p := anon.submit("/signin", "/signin", url.Values{"username": {evil}, "password": {"whatever-password"}})
	if strings.Contains(p.Body, "<script>alert") || !strings.Contains(p.Body, "&lt;script&gt;") {
		t.Errorf("the sign-in form echoes the username unescaped:\n%s", p)
	}
	// And a flash with a user-chosen name comes back escaped.
	p = b.get("/profile")
	id := regexpFind(t, p.Body, `href="/profile/tokens/([0-9a-f]+)/remove"`)
	p = b.do(http.MethodPost, "/profile/tokens/"+id+"/remove", url.Values{"csrf_token": {p.csrf(t)}})
	if f := b.follow(p); strings.Contains(f.Body, "<script>alert") || !strings.Contains(f.text(), "was removed successfully") {
		t.Errorf("the removal flash is unescaped or missing:\n%s", f)
	}
}

func TestBrokenTemplateFailsStart(t *testing.T) {
	good := fstest.MapFS{
		"templates/layout.html": {Data: []byte(`{{define "layout"}}{{template "content" .}}{{end}}`)},
		"templates/error.html":  {Data: []byte(`{{define "content"}}{{.Data.Message}}{{end}}`)},
		"templates/signin.html": {Data: []byte(`{{define "content"}}sign in{{end}}`)},
	}
	if _, err := web.ParseTemplates(good); err != nil {
		t.Fatalf("good templates: %v", err)
	}
	for name, data := range map[string]string{
		"unclosed action":  `{{define "content"}}{{.Data.Message{{end}}`,
		"unknown function": `{{define "content"}}{{nosuchfunc .}}{{end}}`,
		"no content":       `<p>no content template</p>`,
	} {
		broken := fstest.MapFS{}
		for k, v := range good {
			broken[k] = v
		}
		broken["templates/profile.html"] = &fstest.MapFile{Data: []byte(data)}
		if _, err := web.ParseTemplates(broken); err == nil {
			t.Errorf("%s: ParseTemplates accepted a broken template", name)
		}
	}
}
