package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

func TestSignInRefusesApplicationToken(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	tok := s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "laptop"})
	b := newBrowser(t, s.URL)
	wrong := b.submit("/signin", "/signin", url.Values{"username": {"alice"}, "password": {"wrong-password"}})
	s.CoolDown()
	p := b.submit("/signin", "/signin", url.Values{"username": {"alice"}, "password": {tok.Token}})
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.text(), "Invalid username or password.") {
		t.Fatalf("sign-in with a token as the password = %s", p)
	}
	if wrong.text() != p.text() {
		// The same page, token or wrong password (the form keeps the name).
		t.Errorf("a token gets another answer than a wrong password:\n%s\n---\n%s", wrong.text(), p.text())
	}
	if b.cookie("portus_session") != nil || strings.Contains(p.Body, tok.Token) {
		t.Error("the refused sign-in set a session or echoed the token")
	}
	if p := b.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("profile after a refused sign-in = %s", p)
	}
}

func TestOnlyTheSessionCookieOpensPages(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", true)
	tok := s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "laptop"})
	b := newBrowser(t, s.URL)
	for name, o := range map[string]testserver.Opt{
		"Basic password": testserver.Basic("alice", "alice-password"),
		"Basic token":    testserver.Basic("alice", tok.Token),
		"Portus-Auth":    testserver.PortusAuth("alice", tok.Token),
		"Bearer":         func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok.Token) },
		"session in a header": func(r *http.Request) {
			r.Header.Set("X-Portus-Session", tok.Token)
		},
	} {
		for _, path := range []string{"/profile", "/admin/users", "/profile?token=" + tok.Token, "/profile?portus_session=" + tok.Token} {
			p := b.get(path, o)
			if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location(), "/signin") {
				t.Errorf("%s on %s = %d (Location %q), want a redirect to /signin", name, path, p.Status, p.Location())
			}
			if ck := b.cookie("portus_session"); ck != nil {
				t.Fatalf("%s on %s created a web session", name, path)
			}
		}
	}
	// A token in the cookie is not a session either.
	b.setCookie("portus_session", tok.Token)
	if p := b.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("a token as the session cookie = %s", p)
	}
}

func TestSessionEndsWhenUserDisabled(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", true)
	s.AddUser("bob", "bob-password", false)
	admin := newBrowser(t, s.URL)
	admin.signIn("alice", "alice-password")
	bob := newBrowser(t, s.URL)
	bob.signIn("bob", "bob-password")
	_, bobToken := bob.createToken("laptop", "push")
	if p := bob.get("/profile"); p.Status != http.StatusOK {
		t.Fatalf("bob's profile = %s", p)
	}

	p := admin.submit("/admin/users", "/admin/users/bob/disable", nil)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("disable = %s", p)
	}
	if users := admin.follow(p); !strings.Contains(users.text(), "User 'bob' was disabled.") {
		t.Errorf("no flash after disabling:\n%s", users)
	}
	if p := bob.get("/profile"); p.Status != http.StatusSeeOther || p.Location() != "/signin" {
		t.Errorf("bob's profile after he was disabled = %s", p)
	}
	if code := registryStatus(t, s.URL, "bob", bobToken); code != http.StatusUnauthorized {
		t.Errorf("bob's token after he was disabled = %d", code)
	}
	if p := bob.submit("/signin", "/signin", url.Values{"username": {"bob"}, "password": {"bob-password"}}); p.Status != http.StatusUnauthorized {
		t.Errorf("a disabled user signed in: %s", p)
	}
	// Enabling brings the tokens back, not the session.
	admin.submit("/admin/users", "/admin/users/bob/enable", nil)
	if code := registryStatus(t, s.URL, "bob", bobToken); code != http.StatusOK {
		t.Errorf("bob's token after enabling = %d", code)
	}
	if p := bob.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("bob's old session after enabling = %s", p)
	}
}

func TestSessionTimeoutsSignOutAndRotation(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	old := newBrowser(t, s.URL)
	old.signIn("alice", "alice-password")
	first := old.cookie("portus_session").Value

	// A browser that carries a session cookie (say, one planted by an
	// attacker) and signs in gets a new session; the old one ends.
	b := newBrowser(t, s.URL)
	form := b.get("/signin")
	b.setCookie("portus_session", first)
	p := b.do(http.MethodPost, "/signin", url.Values{"csrf_token": {form.csrf(t)}, "username": {"alice"}, "password": {"alice-password"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("sign-in = %s", p)
	}
	if second := b.cookie("portus_session").Value; second == first {
		t.Fatal("signing in kept the session id the browser had")
	}
	if p := old.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("the session from before the sign-in still works: %s", p)
	}

	// Idle: 11 h is fine, 12 h more is not.
	s.Clock.Advance(11 * time.Hour)
	if p := b.get("/profile"); p.Status != http.StatusOK {
		t.Fatalf("profile after 11 idle hours = %s", p)
	}
	s.Clock.Advance(12 * time.Hour)
	if p := b.get("/profile"); p.Status != http.StatusSeeOther {
		t.Fatalf("profile after 12 idle hours = %s", p)
	}

	// Sign-out deletes the session on the server: the old cookie, replayed,
	// opens nothing.
	b.signIn("alice", "alice-password")
	secret := b.cookie("portus_session").Value
	p = b.submit("/profile", "/signout", nil)
	if p.Status != http.StatusSeeOther || p.Location() != "/signin" || b.cookie("portus_session") != nil {
		t.Fatalf("sign-out = %s, cookie %v", p, b.cookie("portus_session"))
	}
	if !strings.Contains(b.follow(p).text(), "You have signed out.") {
		t.Error("no flash after signing out")
	}
	replay := newBrowser(t, s.URL)
	replay.setCookie("portus_session", secret)
	if p := replay.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("a signed-out session cookie still works: %s", p)
	}

	// Absolute: an active session ends after 7 days.
	b.signIn("alice", "alice-password")
	for range 15 { // 165 h, never 12 h idle
		s.Clock.Advance(11 * time.Hour)
		if p := b.get("/profile"); p.Status != http.StatusOK {
			t.Fatalf("an active session ended early: %s", p)
		}
	}
	s.Clock.Advance(11 * time.Hour) // 176 h: active, but past 7 days
	if p := b.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("an active session outlived 7 days: %s", p)
	}
}

func TestSignInThrottleIsShared(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	// Three wrong passwords over the API …
	for range 3 {
		s.Do(http.MethodGet, apitypes.TokensPath, nil, testserver.Basic("alice", "wrong-password"))
	}
	// … and the web sign-in must wait.
	b := newBrowser(t, s.URL)
	p := b.submit("/signin", "/signin", url.Values{"username": {"alice"}, "password": {"alice-password"}})
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" ||
		!strings.Contains(p.text(), "Too many failed sign-in attempts. Wait 1 second, then try again.") {
		t.Fatalf("sign-in after three failures = %s (Retry-After %q)", p, p.Header.Get("Retry-After"))
	}
	s.CoolDown()
	b.signIn("alice", "alice-password")
}

// sessionlessStore is the real store that cannot create sessions, as
// bbolt cannot on a full disk.
type sessionlessStore struct{ model.Store }

func (sessionlessStore) CreateSession(model.Session) error {
	return model.Unavailable("creating session", &os.PathError{Op: "write", Path: "portus.db", Err: syscall.ENOSPC})
}

// TestSignInStoreFailureAnswersOnce: when the session cannot be stored,
// the sign-in answers with one 503 page that says why, and then nothing
// more (before, the handler went on to redirect to /profile over the
// page it had sent).
func TestSignInStoreFailureAnswersOnce(t *testing.T) {
	s := start(t, testserver.Options{WrapStore: func(st model.Store) model.Store { return sessionlessStore{st} }})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	form := b.get("/signin")

	// In-process, so that the recorder also sees what the handler does
	// after the response went out, which the wire does not carry.
	v := url.Values{"username": {"alice"}, "password": {"alice-password"}, "csrf_token": {form.csrf(t)}}
	req := httptest.NewRequest(http.MethodPost, s.URL+"/signin", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	base, _ := url.Parse(s.URL)
	for _, ck := range b.client.Jar.Cookies(base) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	s.HTTP.Config.Handler.ServeHTTP(rec, req)

	sent := rec.Result()
	p := &page{Status: sent.StatusCode, Header: sent.Header, Body: rec.Body.String()}
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.text(), "cannot use its database right now") {
		t.Errorf("sign-in while sessions cannot be stored = %s, want the 503 page", p)
	}
	if n := strings.Count(p.Body, "<!doctype html>"); n != 1 {
		t.Errorf("the answer holds %d pages, want 1:\n%s", n, p)
	}
	if !reflect.DeepEqual(rec.Header(), sent.Header) {
		t.Errorf("headers changed after the answer was sent (a second answer): sent %v, then %v", sent.Header, rec.Header())
	}
	if ck := cookieIn(sent, "portus_session"); ck != nil {
		t.Errorf("a session cookie was set although no session was stored: %v", ck)
	}
}

// cookieIn returns the cookie name that r sets, or nil.
func cookieIn(r *http.Response, name string) *http.Cookie {
	for _, ck := range r.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}
