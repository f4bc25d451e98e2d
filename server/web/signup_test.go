package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
)

func TestSignUpFirstUserBecomesAdmin(t *testing.T) {
	s := start(t, testserver.Options{})
	alice := newBrowser(t, s.URL)
	if p := alice.get("/signup"); !strings.Contains(p.text(), "becomes the administrator") {
		t.Fatalf("the sign-up page of an empty server does not say the first account becomes administrator:\n%s", p)
	}
	profile := alice.signUp("alice", "alice-password")
	if !strings.Contains(profile.text(), "you are the administrator") || !strings.Contains(profile.Body, `href="/admin/users"`) {
		t.Errorf("alice's first page does not say she is the administrator:\n%s", profile)
	}
	if u, _ := s.Core.Accounts.UserLookup("alice"); !u.Admin {
		t.Error("the first account is not an administrator")
	}

	bob := newBrowser(t, s.URL)
	if p := bob.get("/signup"); strings.Contains(p.text(), "becomes the administrator") {
		t.Error("the sign-up page still promises administrator rights after the first account")
	}
	profile = bob.signUp("bob", "bob-password")
	if strings.Contains(profile.Body, `href="/admin/users"`) || !strings.Contains(profile.text(), "Welcome, bob. Your account was created.") {
		t.Errorf("bob's profile:\n%s", profile)
	}
	if u, _ := s.Core.Accounts.UserLookup("bob"); u.Admin {
		t.Error("the second account is an administrator")
	}
	// A taken name is refused without saying it is taken (see
	// signup_limit_test.go), and differing passwords are explained.
	carol := newBrowser(t, s.URL)
	p := carol.submit("/signup", "/signup", url.Values{"username": {"bob"}, "password": {"carol-password"}, "password_confirmation": {"carol-password"}})
	if p.Status != http.StatusConflict || !strings.Contains(p.text(), "That name cannot be used. Choose another name.") {
		t.Errorf("sign-up with a taken name = %s", p)
	}
	p = carol.submit("/signup", "/signup", url.Values{"username": {"carol"}, "password": {"carol-password"}, "password_confirmation": {"carol-passwort"}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.text(), "The two passwords differ") {
		t.Errorf("sign-up with differing passwords = %s", p)
	}
}

func TestSignUpTurnedOff(t *testing.T) {
	base := startWith(t, func(c *config.Config) { c.Signup = false })
	b := newBrowser(t, base)
	p := b.get("/signup")
	if p.Status != http.StatusForbidden || !strings.Contains(p.text(), "Sign-up is turned off") {
		t.Fatalf("GET /signup with sign-up off = %s", p)
	}
	if strings.Contains(b.get("/signin").Body, `href="/signup"`) {
		t.Error("the sign-in page links to the closed sign-up page")
	}
	form := b.get("/signin")
	p = b.do(http.MethodPost, "/signup", url.Values{"csrf_token": {form.csrf(t)}, "username": {"mallory"}, "password": {"mallory-password"}, "password_confirmation": {"mallory-password"}})
	if p.Status != http.StatusForbidden {
		t.Fatalf("POST /signup with sign-up off = %s", p)
	}
	if p := newBrowser(t, base).submit("/signin", "/signin", url.Values{"username": {"mallory"}, "password": {"mallory-password"}}); p.Status != http.StatusUnauthorized {
		t.Errorf("an account was created although sign-up is off: %s", p)
	}
}
