package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/web"
	"github.com/portusproject/portus/shared/apitypes"
)

func regexpFind(t *testing.T, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s not found", pattern)
	}
	return m[1]
}

// TestEveryPostNeedsCSRFToken posts to every non-GET route of the route
// table, signed in as an administrator, without a CSRF token and with a
// wrong one, and expects 403 and no change.
func TestEveryPostNeedsCSRFToken(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", true)
	s.AddUser("bob", "bob-password", false)
	mine := s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "mine"})
	bobs := s.CreateToken("bob", "bob-password", apitypes.CreateTokenRequest{Name: "bobs"})

	h, err := web.New(s.Core.Accounts, s.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	table := web.RouteTable(h)

	// The table is the whole web surface: every POST the engine serves
	// outside the API is in it.
	engine, ok := s.HTTP.Config.Handler.(*gin.Engine)
	if !ok {
		t.Fatalf("the public handler is a %T, not a gin engine", s.HTTP.Config.Handler)
	}
	inTable := map[string]bool{}
	for _, r := range table {
		inTable[r.Method+" "+r.Path] = true
	}
	for _, r := range engine.Routes() {
		if r.Method == http.MethodGet || r.Method == http.MethodHead ||
			strings.HasPrefix(r.Path, "/api/") || strings.HasPrefix(r.Path, "/v2/") ||
			strings.HasPrefix(r.Path, "/oauth/") { // the device grant: no cookie counts there
			continue
		}
		if !inTable[r.Method+" "+r.Path] {
			t.Errorf("%s %s is served but not in the web route table", r.Method, r.Path)
		}
	}

	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	posts := 0
	for _, r := range table {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			continue
		}
		path := r.Path
		id := bobs.ID
		if strings.HasPrefix(path, "/profile/") {
			id = mine.ID
		}
		path = strings.ReplaceAll(path, ":name", "bob")
		path = strings.ReplaceAll(path, ":id", id)
		// Plausible values for every form, so that only the token is missing.
		form := url.Values{
			"username": {"mallory"}, "password": {"mallory-password"}, "password_confirmation": {"mallory-password"},
			"name": {"forged"}, "scope": {"delete"}, "current_password": {"alice-password"},
			"new_password": {"forged-password"}, "new_password_confirmation": {"forged-password"},
			"revoke_tokens": {"1"}, "admin": {"1"},
		}
		for _, token := range []string{"", "forged-token"} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if token != "" {
				f.Set("csrf_token", token)
			}
			p := b.do(r.Method, path, f)
			if p.Status != http.StatusForbidden || !strings.Contains(p.text(), "could not be verified") {
				t.Errorf("%s %s with csrf_token %q = %d (Location %q), want 403", r.Method, path, token, p.Status, p.Location())
			}
		}
		posts++
	}
	if posts < 12 {
		t.Fatalf("only %d state-changing routes in the table", posts)
	}

	// Nothing changed.
	if p := b.get("/profile"); p.Status != http.StatusOK {
		t.Fatalf("alice is no longer signed in: %s", p)
	}
	for user, want := range map[string]string{"alice": "mine", "bob": "bobs"} {
		list, err := s.Core.Accounts.Tokens(user)
		if err != nil || len(list) != 1 || list[0].Name != want {
			t.Errorf("%s's tokens after forged posts: %+v, %v", user, list, err)
		}
	}
	for _, name := range []string{"alice", "bob"} {
		u, err := s.Core.Accounts.UserLookup(name)
		if err != nil || u.Disabled || u.Admin != (name == "alice") {
			t.Errorf("%s after forged posts: %+v, %v", name, u, err)
		}
	}
	if _, err := s.Core.Accounts.UserLookup("mallory"); err == nil {
		t.Error("a forged post created a user")
	}
	if _, err := s.Core.Accounts.AuthenticatePassword("alice", "alice-password", ""); err != nil {
		t.Errorf("a forged post changed alice's password: %v", err)
	}
}

// The pre-session token is bound to its cookie: a token from one browser
// is no good with another browser's cookie, or with no cookie.
func TestPreSessionTokenBoundToCookie(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	attacker := newBrowser(t, s.URL)
	token := attacker.get("/signin").csrf(t)

	victim := newBrowser(t, s.URL)
	victim.get("/signin") // has a portus_csrf cookie of its own
	form := url.Values{"csrf_token": {token}, "username": {"alice"}, "password": {"alice-password"}}
	if p := victim.do(http.MethodPost, "/signin", form); p.Status != http.StatusForbidden {
		t.Errorf("another browser's pre-session token = %s", p)
	}
	fresh := newBrowser(t, s.URL)
	if p := fresh.do(http.MethodPost, "/signin", form); p.Status != http.StatusForbidden {
		t.Errorf("a pre-session token without its cookie = %s", p)
	}
	// The session's CSRF token is no pre-session token either.
	b := newBrowser(t, s.URL)
	profile := b.signIn("alice", "alice-password")
	b.setCookie("portus_csrf", "")
	form.Set("csrf_token", profile.csrf(t))
	if p := b.do(http.MethodPost, "/signin", form); p.Status != http.StatusForbidden {
		t.Errorf("a session CSRF token on the sign-in form = %s", p)
	}
	// The owner of the pair signs in.
	if p := attacker.do(http.MethodPost, "/signin", url.Values{"csrf_token": {token}, "username": {"alice"}, "password": {"alice-password"}}); p.Status != http.StatusSeeOther {
		t.Errorf("sign-in with the right pair = %s", p)
	}
}

// A POST from a browser whose session has ended is not a CSRF failure: it
// goes to the sign-in page, with nothing done.
func TestPostWithoutSessionRedirects(t *testing.T) {
	s := start(t, testserver.Options{})
	b := newBrowser(t, s.URL)
	p := b.do(http.MethodPost, "/profile/tokens", url.Values{"name": {"x"}})
	if p.Status != http.StatusSeeOther || p.Location() != "/signin" {
		t.Fatalf("POST without a session = %s", p)
	}
	if !strings.Contains(b.follow(p).text(), "Your session has ended, so nothing was changed.") {
		t.Error("no explanation after the redirect")
	}
}
