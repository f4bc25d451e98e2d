package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeVersion is the axe-core that scripts/install-deps installs.
const axeVersion = "4.14.1"

// TestWebUIInChromiumAccessibility runs axe-core, the accessibility
// checker, in real headless Chromium on each page of the web UI (signed
// out, a user's, an administrator's, error states, a phone's width) and
// fails on any WCAG 2.1 A or AA violation it finds.
func TestWebUIInChromiumAccessibility(t *testing.T) {
	exe := requireTool(t, "chromium")
	axe := axeScript(t)
	p := startPortus(t, "--registry-hosts", "registry.example.com")
	browser := startChromium(t, exe)
	b := newTab(t, browser, p.URL)

	check := func(t *testing.T, what string) {
		t.Helper()
		if _, err := chromedp.Run(b.timeout(t), chromedp.Evaluate[bool](axe+";true")); err != nil {
			t.Fatalf("loading axe-core into the page: %v", err)
		}
		report, err := chromedp.Run(b.timeout(t), chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
			.then(r => r.violations.map(v => v.impact + " " + v.id + ": " + v.help + " — " + v.nodes.map(n => n.target.join(" ")).join(", ")).join("\n"))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("running axe-core: %v", err)
		}
		if report != "" {
			t.Errorf("axe-core finds on %s:\n%s", what, report)
		}
	}

	b.open(t, "/signup")
	check(t, "the first sign-up")
	b.typeInto(t, "#username", "alice")
	b.typeInto(t, "#password", "alice-password")
	b.typeInto(t, "#password_confirmation", "alice-password")
	b.submit(t, "form[action='/signup'] button[type=submit]", http.StatusOK)
	check(t, "the new administrator's profile")
	b.createToken(t, "ci")
	check(t, "the profile showing a new token")
	b.reload(t)
	check(t, "the profile after a reload")
	b.typeInto(t, "#current_password", "wrong-password")
	b.typeInto(t, "#new_password", "new-password-1")
	b.typeInto(t, "#new_password_confirmation", "new-password-1")
	b.submit(t, "form[action^='/profile/password'] button[type=submit]", http.StatusUnauthorized)
	check(t, "a failed password change")
	p.createUser(t, "bob", "bob-password", false)
	for _, page := range []string{"/activity", "/admin/users", "/admin/users/bob", "/admin/users/bob/disable", "/no/such/page"} {
		b.open(t, page)
		check(t, page)
	}
	b.do(t, chromedp.EmulateViewport(390, 844))
	b.open(t, "/profile")
	check(t, "the profile on a phone")
	b.submit(t, "form.signout button", http.StatusOK)
	check(t, "the sign-in page")
}

// axeScript returns axe-core's source: $PORTUS_TEST_AXE, else the copy
// scripts/install-deps puts in ${XDG_CACHE_HOME:-$HOME/.cache}/portus-test.
// A missing one skips the test on a workstation and fails it in CI.
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv("PORTUS_TEST_AXE")
	if path == "" {
		if cache, err := os.UserCacheDir(); err == nil {
			path = filepath.Join(cache, "portus-test", "axe-core-"+axeVersion, "node_modules", "axe-core", "axe.min.js")
		}
	}
	data, err := os.ReadFile(path)
	if err == nil && strings.Contains(string(data), "axe") {
		return string(data)
	}
	msg := fmt.Sprintf("axe-core %s is not installed at %s (%v): run scripts/install-deps, or set PORTUS_TEST_AXE", axeVersion, path, err)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
