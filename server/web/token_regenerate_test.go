package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/internal/testserver"
)

// TestTokenRegenerate: the Regenerate link asks first (with a CSRF form),
// then shows the new secret once; the old one works for the grace, and a
// use after it is flagged on the profile.
func TestTokenRegenerate(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1"}})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	created, old := b.createToken("ci", "pull")
	id := strings.TrimPrefix(strings.TrimSuffix(created.URL, "#created-token"), "/profile?created=")

	profile := b.get("/profile")
	link := "/profile/tokens/" + id + "/regenerate"
	if !strings.Contains(profile.Body, `href="`+link+`"`) {
		t.Fatalf("the profile has no Regenerate link to %s", link)
	}
	confirm := b.get(link)
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.text(), "Regenerate the token 'ci'?") || !strings.Contains(confirm.text(), "10m0s") {
		t.Fatalf("confirmation page = %s", confirm)
	}
	// Without the form's CSRF token nothing happens.
	if p := b.do(http.MethodPost, link, url.Values{}); p.Status != http.StatusForbidden {
		t.Errorf("POST without CSRF = %s, want 403", p)
	}
	posted := b.submit(link, link, url.Values{})
	if posted.Status != http.StatusSeeOther || !strings.HasPrefix(posted.Location(), "/profile?created="+id) {
		t.Fatalf("regenerate = %s (Location %q)", posted, posted.Location())
	}
	shown := b.follow(posted)
	m := newTokenPattern.FindStringSubmatch(shown.Body)
	if m == nil || m[1] == old || !strings.HasPrefix(m[1], "ptk_") {
		t.Fatalf("the page after regenerating shows no new secret:\n%s", shown)
	}
	fresh := m[1]
	if !strings.Contains(shown.text(), "Token 'ci' has a new secret.") {
		t.Errorf("no success message:\n%s", shown.text())
	}
	if again := b.get(shown.URL); strings.Contains(again.Body, fresh) {
		t.Error("the new secret is shown a second time")
	}
	for _, tok := range []string{old, fresh} {
		if code := registryStatus(t, s.URL, "alice", tok); code != http.StatusOK {
			t.Errorf("/v2/token within the grace = %d, want 200", code)
		}
	}
	s.Clock.Advance(11 * time.Minute)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v2/token?service=registry", nil)
	req.SetBasicAuth("alice", old)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/v2/token with the old secret after the grace = %d, want 401", resp.StatusCode)
	}
	if code := registryStatus(t, s.URL, "alice", fresh); code != http.StatusOK {
		t.Errorf("/v2/token with the new secret after a reuse = %d, want 200", code)
	}
	flag := b.get("/profile")
	if want := "a replaced secret of 'ci' was used from 203.0.113.7"; !strings.Contains(flag.text(), want) {
		t.Errorf("the profile does not say %q:\n%s", want, flag.text())
	}
}
