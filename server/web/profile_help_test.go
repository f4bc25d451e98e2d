package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
)

// A new token's value is held for its own session's next view only: a
// second session of the same user, given the redirect's URL first, sees
// that it was created but not the value; the creating session still does.
func TestCreatedValueBelongsToItsSession(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	posted := b.submit("/profile", "/profile/tokens", url.Values{"name": {"ci"}, "scope": {"pull"}})
	if posted.Status != http.StatusSeeOther {
		t.Fatalf("creating = %s", posted)
	}
	loc := posted.Location()
	if strings.Contains(loc, "ptk_") || !strings.HasSuffix(loc, "#created-token") {
		t.Fatalf("the redirect goes to %q", loc)
	}
	other := newBrowser(t, s.URL)
	other.signIn("alice", "alice-password")
	if p := other.get(loc); strings.Contains(p.Body, "ptk_") || !strings.Contains(p.text(), "Token 'ci' was just created.") {
		t.Errorf("another session at the redirect's URL:\n%s", p)
	}
	if p := b.follow(posted); !newTokenPattern.MatchString(p.Body) || !strings.Contains(p.text(), "Token 'ci' was created successfully.") {
		t.Errorf("the creating session does not see its value:\n%s", p)
	}
	// An id that is not one of alice's tokens is ignored.
	if p := b.get("/profile?created=nonsense"); strings.Contains(p.text(), "just created") {
		t.Error("an unknown id gets the just-created notice")
	}
}

func TestFormErrorsAreMarkedAndFocused(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	p := b.submit("/profile", "/profile/password", url.Values{"current_password": {"wrong-password"}, "new_password": {"new-password-1"}, "new_password_confirmation": {"new-password-1"}})
	if p.Status != http.StatusUnauthorized {
		t.Fatalf("wrong current password = %s", p)
	}
	want := `id="current_password" name="current_password" type="password" autocomplete="current-password" required aria-invalid="true" aria-describedby="password-error" autofocus`
	if !strings.Contains(p.Body, want) || strings.Count(p.Body, "autofocus") != 1 {
		t.Errorf("the current-password field is not marked invalid and focused (alone):\n%s", p.Body)
	}
	if !strings.Contains(p.Body, `action="/profile/password#password-title"`) || !strings.Contains(p.Body, `action="/profile/tokens#create-title"`) {
		t.Error("the forms do not scroll back to themselves (action without a fragment)")
	}
	p = b.submit("/profile", "/profile/password", url.Values{"current_password": {"alice-password"}, "new_password": {"new-password-1"}, "new_password_confirmation": {"new-password-2"}})
	if !strings.Contains(p.Body, `id="new_password_confirmation" name="new_password_confirmation" type="password" autocomplete="new-password" minlength="8" maxlength="128" required aria-invalid="true"`) {
		t.Error("a mismatch does not mark the confirmation field")
	}
	p = b.submit("/profile", "/profile/tokens", url.Values{"name": {strings.Repeat("x", 65)}, "scope": {"pull"}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `aria-invalid="true" aria-describedby="token-error token-name-hint" autofocus`) {
		t.Errorf("a bad token name is not marked on its field: %s", p)
	}
	p = b.submit("/profile", "/profile/tokens", url.Values{"name": {"ok"}, "scope": {"pull"}, "expires": {"9999"}})
	if !strings.Contains(p.Body, `id="token-expires" name="expires" aria-invalid="true"`) {
		t.Errorf("a bad expiry is not marked on its field: %s", p)
	}
	// A success goes to the top, where its message is.
	p = b.submit("/profile", "/profile/password", url.Values{"current_password": {"alice-password"}, "new_password": {"new-password-1"}, "new_password_confirmation": {"new-password-1"}})
	if p.Status != http.StatusSeeOther || p.Location() != "/profile#top" {
		t.Errorf("a changed password redirects to %q, want /profile#top", p.Location())
	}
}

func TestProfileShowsTheRegistryHosts(t *testing.T) {
	s := start(t, testserver.Options{Configure: func(c *config.Config) {
		c.RegistryHosts = []string{"registry.example.com", "mirror.example.com:5000"}
	}})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	p := b.signIn("alice", "alice-password")
	text := p.text()
	for _, want := range []string{
		"docker login registry.example.com -u alice",
		"docker login mirror.example.com:5000 -u alice",
		`echo "$TOKEN" | docker login registry.example.com -u alice --password-stdin`,
		`{"credHelpers": {"registry.example.com": "portus","mirror.example.com:5000": "portus"}}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the profile does not show %q", want)
		}
	}
	if strings.Contains(text, "REGISTRY") || strings.Contains(text, "go install") {
		t.Errorf("the profile still shows a placeholder or go install:\n%s", text)
	}
	// The helper's install text says what the README's "Install" says.
	if !strings.Contains(p.Body, `href="https://github.com/portusproject/portus/releases"`) || !strings.Contains(text, "SHA256SUMS") {
		t.Error("the profile's helper text does not point to the release downloads and their checksums")
	}

	// Without hosts (the default service "registry" is none), a
	// placeholder that the page explains.
	s2 := start(t, testserver.Options{})
	s2.AddUser("bob", "bob-password", false)
	if text := newBrowser(t, s2.URL).signIn("bob", "bob-password").text(); !strings.Contains(text, "docker login REGISTRY -u bob") || !strings.Contains(text, "REGISTRY is the address of your Docker registry") {
		t.Errorf("without hosts:\n%s", text)
	}
}

func TestTokensOnlySwitch(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	if code := registryStatus(t, s.URL, "alice", "alice-password"); code != http.StatusOK {
		t.Fatalf("password at /v2/token before = %d", code)
	}
	p := b.submit("/profile", "/profile/docker-login", url.Values{"tokens_only": {"1"}})
	if p.Status != http.StatusSeeOther || p.Location() != "/profile#docker-login" {
		t.Fatalf("ticking = %s", p)
	}
	if code := registryStatus(t, s.URL, "alice", "alice-password"); code != http.StatusUnauthorized {
		t.Errorf("password at /v2/token after ticking = %d, want 401", code)
	}
	if text := b.follow(p).text(); !strings.Contains(text, "docker login accepts only your application tokens: your password is refused. You chose this.") {
		t.Errorf("the profile does not say the switch is on:\n%s", text)
	}
	b.submit("/profile", "/profile/docker-login", url.Values{})
	if code := registryStatus(t, s.URL, "alice", "alice-password"); code != http.StatusOK {
		t.Errorf("password at /v2/token after unticking = %d", code)
	}

	// An administrator's setting wins and the profile says who set it.
	admin := newBrowser(t, s.URL)
	admin.signIn("root", "root-password")
	p = admin.submit("/admin/users/alice", "/admin/users/alice/docker-login", url.Values{"docker_login": {"tokens_only"}, "return": {"user"}})
	if p.Status != http.StatusSeeOther || p.Location() != "/admin/users/alice" {
		t.Fatalf("the administrator's setting = %s", p)
	}
	if text := admin.follow(p).text(); !strings.Contains(text, "accepts only alice's application tokens: set by root.") {
		t.Errorf("the user page does not say it:\n%s", text)
	}
	prof := b.get("/profile")
	if !strings.Contains(prof.text(), "Set for your account by the administrator root; only an administrator can change it.") || strings.Contains(prof.Body, `id="tokens-only"`) {
		t.Errorf("the profile does not show the administrator's setting as locked:\n%s", prof.text())
	}
	if p := b.do(http.MethodPost, "/profile/docker-login", url.Values{"csrf_token": {prof.csrf(t)}}); p.Status != http.StatusForbidden {
		t.Errorf("unticking the administrator's setting = %s, want 403", p)
	}
	if code := registryStatus(t, s.URL, "alice", "alice-password"); code != http.StatusUnauthorized {
		t.Errorf("password at /v2/token after the refused change = %d, want 401", code)
	}
	if p := admin.submit("/admin/users/alice", "/admin/users/alice/docker-login", url.Values{"docker_login": {"sometimes"}}); p.Status != http.StatusBadRequest {
		t.Errorf("a bad policy = %s, want 400", p)
	}
}

func TestTokensURLRedirectsToProfile(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	if p := b.get("/profile/tokens"); p.Status != http.StatusSeeOther || p.Location() != "/profile#tokens" {
		t.Errorf("GET /profile/tokens = %s (Location %q)", p, p.Location())
	}
}

func TestStyledNotFoundPages(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	p := b.get("/no/such/page")
	if p.Status != http.StatusNotFound || !strings.Contains(p.text(), "Page not found") || !strings.Contains(p.Body, `href="/profile"`) || p.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("an unknown page = %s", p)
	}
	p = b.do(http.MethodDelete, "/profile", nil)
	if p.Status != http.StatusMethodNotAllowed || !strings.Contains(p.text(), "Not possible here") {
		t.Errorf("DELETE /profile = %s", p)
	}
	for _, path := range []string{"/api/v1/nothing", "/v2/nothing"} {
		if p := b.get(path); p.Status != http.StatusNotFound || p.Body != "404 page not found" {
			t.Errorf("%s = %s, want the plain 404", path, p)
		}
	}
}
