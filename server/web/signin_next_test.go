package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
)

func TestSignInReturnsWhereTheUserWasGoing(t *testing.T) {
	s := start(t, testserver.Options{})
	if p := newBrowser(t, s.URL).get("/"); p.Location() != "/signup" {
		t.Errorf("a fresh server's / goes to %q, want /signup", p.Location())
	}
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	if p := b.get("/"); p.Location() != "/signin" {
		t.Errorf("with an account, / goes to %q, want /signin", p.Location())
	}
	p := b.get("/activity?action=token.")
	if p.Status != http.StatusSeeOther || p.Location() != "/signin?next=%2Factivity%3Faction%3Dtoken." {
		t.Fatalf("a signed-out visit = %s (Location %q)", p, p.Location())
	}
	form := b.follow(p)
	if !strings.Contains(form.Body, `name="next" value="/activity?action=token."`) {
		t.Fatalf("the sign-in form does not carry the way back:\n%s", form)
	}
	wrong := b.do(http.MethodPost, "/signin", url.Values{"csrf_token": {form.csrf(t)}, "username": {"alice"}, "password": {"wrong"}, "next": {"/activity?action=token."}})
	if wrong.Status != http.StatusUnauthorized || !strings.Contains(wrong.Body, `name="next" value="/activity?action=token."`) {
		t.Errorf("after a wrong password the way back is lost: %s", wrong)
	}
	if !strings.Contains(wrong.Body, `type="password" autocomplete="current-password" required autofocus`) || strings.Count(wrong.Body, "autofocus") != 1 {
		t.Error("after a wrong password the focus is not on the password")
	}
	ok := b.do(http.MethodPost, "/signin", url.Values{"csrf_token": {wrong.csrf(t)}, "username": {"alice"}, "password": {"alice-password"}, "next": {"/activity?action=token."}})
	if ok.Status != http.StatusSeeOther || ok.Location() != "/activity?action=token." {
		t.Errorf("sign-in goes to %q, want back to /activity?action=token.", ok.Location())
	}

	// Never to another site.
	for _, evil := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example"} {
		c := newBrowser(t, s.URL)
		f := c.get("/signin?next=" + url.QueryEscape(evil))
		if strings.Contains(f.Body, "evil.example") {
			t.Errorf("the sign-in form carries %q", evil)
		}
		p := c.do(http.MethodPost, "/signin", url.Values{"csrf_token": {f.csrf(t)}, "username": {"alice"}, "password": {"alice-password"}, "next": {evil}})
		if p.Location() != "/profile" {
			t.Errorf("next=%q sends the browser to %q", evil, p.Location())
		}
	}
}
