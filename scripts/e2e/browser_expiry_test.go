package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portusproject/portus/shared/apitypes"
)

// TestTokenExpiryInChromium: against a real `portus serve` with an idle
// expiry, the profile in headless Chromium shows an expired token with
// its badge, greyed and last; the banner about a token that expires
// within 7 days; where a token was last used (address and client, the
// absolute time in the tooltip); and the warning when "never" is chosen.
func TestTokenExpiryInChromium(t *testing.T) {
	exe := requireTool(t, "chromium")
	p := startPortus(t, "--token-idle-expiry", "720h")
	p.createUser(t, "alice", "alice-password", false)
	shots := screenshotDir(t)

	create := func(name string, expires time.Time) string {
		var tok apitypes.CreatedToken
		req := apitypes.CreateTokenRequest{Name: name, ExpiresAt: &expires}
		if code := p.apiJSON(t, http.MethodPost, apitypes.TokensPath, "alice", "alice-password", req, &tok); code != http.StatusCreated {
			t.Fatalf("creating token %s: %d", name, code)
		}
		return tok.Token
	}
	shortExpiry := time.Now().Add(3 * time.Second)
	short := create("short", shortExpiry)
	create("weekly", time.Now().Add(5*24*time.Hour))
	ci := create("ci", time.Now().Add(60*24*time.Hour))
	// ci is used by "docker" from this machine.
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/v2/token?service=registry&scope=repository:alice/app:pull", nil)
	req.SetBasicAuth("alice", ci)
	req.Header.Set("User-Agent", "docker/28.2.2 go/go1.24.3 git-commit/e6534b4 os/linux arch/amd64")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/v2/token with ci = %d", resp.StatusCode)
	}
	time.Sleep(time.Until(shortExpiry))
	if code := registryTokenStatus(t, p, "alice", short, "repository:alice/app:pull"); code != http.StatusUnauthorized {
		t.Fatalf("/v2/token with the expired token = %d, want 401", code)
	}

	browser := startChromium(t, exe)
	alice := newTab(t, browser, p.URL)
	alice.signIn(t, "alice", "alice-password")

	t.Run("the expired token has its badge and is listed last, greyed", func(t *testing.T) {
		alice.wantText(t, `tr[data-token="short"] .badge.expired`, "EXPIRED") // the badge's text-transform
		last, err := chromedp.Run(alice.timeout(t), chromedp.Evaluate[string](`document.querySelector("#token-table tbody tr:last-child").dataset.token`))
		if err != nil || last != "short" {
			t.Errorf("last row is %q (%v), want short", last, err)
		}
		grey, err := chromedp.Run(alice.timeout(t), chromedp.Evaluate[bool](`getComputedStyle(document.querySelector('tr[data-token="short"] td')).color !== getComputedStyle(document.querySelector('tr[data-token="ci"] td')).color`))
		if err != nil || !grey {
			t.Errorf("the expired row is not greyed (%v)", err)
		}
		alice.wantText(t, "#token-table caption", "1 expired, listed last, which take no slot")
	})

	t.Run("the banner names the token that expires within 7 days", func(t *testing.T) {
		alice.wantText(t, "#expiry-banner", "1 of your tokens expires within 7 days: 'weekly' on ")
	})

	t.Run("last used shows when, from where and with what", func(t *testing.T) {
		alice.wantText(t, `tr[data-token="ci"] td.last-used`, "from 127.0.0.1, docker/28.2.2")
		alice.wantText(t, `tr[data-token="ci"] td.last-used`, "ago")
		title, err := chromedp.Run(alice.timeout(t), chromedp.Evaluate[string](`document.querySelector('tr[data-token="ci"] td.last-used time').title`))
		if err != nil || !strings.HasSuffix(title, " UTC") || !strings.HasPrefix(title, fmt.Sprint(time.Now().UTC().Year())) {
			t.Errorf("the last-used tooltip is %q (%v), want the absolute time", title, err)
		}
		alice.wantText(t, `tr[data-token="weekly"] td.last-used`, "never")
		alice.screenshot(t, shots, "profile-token-expiry.png")
	})

	t.Run("the form preselects 90 days and warns about never", func(t *testing.T) {
		got, err := chromedp.Run(alice.timeout(t), chromedp.Evaluate[string](`document.querySelector("#token-expires").value`))
		if err != nil || got != "90" {
			t.Errorf("preselected expiry %q (%v), want 90", got, err)
		}
		hidden, err := chromedp.Run(alice.timeout(t), chromedp.Evaluate[bool](`document.querySelector("#token-never-warning").hidden`))
		if err != nil || !hidden {
			t.Errorf("the never warning shows while 90 days is chosen (%v)", err)
		}
		alice.do(t, chromedp.SetValue(chromedp.CSS("#token-expires"), ""),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("#token-expires").dispatchEvent(new Event("change"))`))
		alice.wantVisible(t, "#token-never-warning")
		alice.wantText(t, "#token-never-warning", "never expires works until someone removes it")
		alice.viewportShot(t, shots, "profile-token-never-warning.png")
	})
}
