package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// TestFormUnderMaxLifetime: with max_token_lifetime the form has no
// "never", preselects the default, and a forged longer expiry is refused
// on the expiry field with the maximum named.
func TestFormUnderMaxLifetime(t *testing.T) {
	s := start(t, testserver.Options{Configure: func(c *config.Config) {
		c.MaxTokenLifetime, c.DefaultTokenLifetime = 720*time.Hour, 168*time.Hour
	}})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	p := b.get("/profile")
	if strings.Contains(p.Body, `<option value="">`) || !strings.Contains(p.Body, `<option value="7" selected>in 7 days</option>`) {
		t.Errorf("the form under a 30-day maximum offers never or does not preselect 7 days:\n%s", p.Body)
	}
	if strings.Contains(p.Body, `value="90"`) {
		t.Error("the form offers 90 days beyond the 30-day maximum")
	}
	for _, expires := range []string{"", "60"} {
		p = b.submit("/profile", "/profile/tokens", url.Values{"name": {"ci"}, "scope": {"pull"}, "expires": {expires}})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.text(), "Tokens on this server last at most 30 days.") ||
			!strings.Contains(p.Body, `id="token-expires" name="expires" aria-invalid="true"`) {
			t.Errorf("expires %q: %d, want 422 on the expiry field naming 30 days:\n%s", expires, p.Status, p.text())
		}
	}
}

// TestExpiredOnProfileAndAdminPage: an expired token is badged, listed
// last and not counted; the banner names the token that expires soon;
// the last use says from where and with what, on both pages.
func TestExpiredOnProfileAndAdminPage(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1"}})
	s.AddUser("root", "root-password", true)
	s.AddUser("alice", "alice-password", false)
	now := s.Clock.Now()
	mk := func(name string, d time.Duration) apitypes.CreatedToken {
		at := now.Add(d)
		return s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: name, ExpiresAt: &at})
	}
	mk("old", time.Hour)
	mk("weekly", 6*24*time.Hour)
	ci := mk("ci", 60*24*time.Hour)
	s.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, testserver.PortusAuth("alice", ci.Token),
		testserver.FromIP("203.0.113.7"), func(r *http.Request) { r.Header.Set("User-Agent", "docker/28.2 go/go1.24") })
	s.Clock.Advance(2 * time.Hour)

	alice := newBrowser(t, s.URL)
	alice.signIn("alice", "alice-password")
	root := newBrowser(t, s.URL)
	root.signIn("root", "root-password")
	for _, p := range []*page{alice.get("/profile"), root.get("/admin/users/alice")} {
		text := p.text()
		rows := strings.Split(p.Body, "<tr data-token=")
		if last := rows[len(rows)-1]; !strings.HasPrefix(last, `"old" class="expired"`) || !strings.Contains(last, `<span class="badge expired">Expired</span>`) {
			t.Errorf("the last row is not the expired token with its badge:\n%s", last)
		}
		if !strings.Contains(text, "2 of 5 tokens; 1 expired, listed last, which take no slot") {
			t.Errorf("the caption does not count the expired token apart:\n%s", text)
		}
		if !strings.Contains(text, "from 203.0.113.7, docker/28.2") || !strings.Contains(p.Body, `title="docker/28.2 go/go1.24"`) {
			t.Errorf("the last use of ci is not shown with address and client:\n%s", text)
		}
	}
	// An expired token cannot be regenerated (the service refuses): its
	// row offers Remove only, the others Regenerate too.
	profile := alice.get("/profile").Body
	rows := strings.Split(profile, "<tr data-token=")
	if last := rows[len(rows)-1]; strings.Contains(last, "/regenerate") {
		t.Errorf("the expired token's row offers Regenerate:\n%s", last)
	}
	if !strings.Contains(profile, `aria-label="Regenerate token ci"`) {
		t.Error("a working token's row lacks Regenerate")
	}
	if text := alice.get("/profile").text(); !strings.Contains(text, "1 of your tokens expires within 7 days: 'weekly' on ") {
		t.Errorf("no expiry banner:\n%s", text)
	}
}
