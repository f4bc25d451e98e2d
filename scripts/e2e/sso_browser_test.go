package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/portusproject/portus/internal/testutil/oidcprovider"
)

// startSSOPortus runs a real OpenID provider on loopback (zitadel/oidc's
// op with its example storage and login page) and a `portus serve` that
// signs people in with it; members of "registry-admins" are
// administrators.
func startSSOPortus(t *testing.T, extra ...string) (*portusServer, *oidcprovider.Provider) {
	t.Helper()
	prov := oidcprovider.Start(t, "")
	args := append([]string{"--oidc-issuer", prov.Issuer, "--oidc-client-id", prov.ClientID,
		"--oidc-client-secret-file", prov.SecretFile, "--oidc-name", "Example Corp",
		"--oidc-groups-claim", "groups", "--oidc-admin-group", "registry-admins"}, extra...)
	s := startPortus(t, args...)
	prov.SetRedirectURI(s.URL + "/signin/oidc/callback")
	return s, prov
}

// ssoSignIn clicks "Sign in with …" on the page the tab is on (the
// sign-in page), signs name in on the provider's own login page, and
// checks that the browser comes back to Portus signed in, at wantPath.
func (b *tab) ssoSignIn(t *testing.T, name, password, wantPath string) {
	t.Helper()
	b.submit(t, "#sso-signin", http.StatusOK)
	b.typeInto(t, oidcprovider.UsernameField, name)
	b.typeInto(t, oidcprovider.PasswordField, password)
	b.submit(t, oidcprovider.SubmitButton, http.StatusOK)
	b.wantPath(t, wantPath)
	b.wantText(t, "nav a.me", name)
}

// callbacks records the SSO callback URLs the tab loads.
func (b *tab) callbacks() func() []string {
	var mu sync.Mutex
	var urls []string
	chromedp.Listen(b.ctx, func(ev any) { //nolint:errcheck // the tab is open
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && strings.Contains(e.Request.URL, "/signin/oidc/callback") {
			mu.Lock()
			urls = append(urls, e.Request.URL)
			mu.Unlock()
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), urls...)
	}
}

// TestSSOInChromium: "Sign in with Example Corp" in Chromium, through the
// provider's login page and back; the account is created, the admin
// group grants administrator rights and leaving it takes them away at the
// next sign-in; a local account of the same name is refused until
// `portus user link-sso` links it; a tampered state and a replayed
// callback are refused.
// (A replayed code with the flow cookie, a wrong nonce and another
// client's code are refused in server/web's TestSSORefusals, against the
// same provider.)
func TestSSOInChromium(t *testing.T) {
	exe := requireTool(t, "chromium")
	s, prov := startSSOPortus(t)
	prov.AddUser("olga", "olga-idp-pw", "staff", "registry-admins")
	browser := startChromium(t, exe)

	olga := newTab(t, browser, s.URL)
	seen := olga.callbacks()
	t.Run("sign in from a page that asked for it, and come back there", func(t *testing.T) {
		olga.open(t, "/activity")
		olga.wantPath(t, "/signin?next=%2Factivity")
		olga.wantText(t, "#sso-signin", "Sign in with Example Corp")
		olga.ssoSignIn(t, "olga", "olga-idp-pw", "/activity")
		olga.wantPresent(t, `nav a[href="/admin/users"]`, true)
		olga.open(t, "/admin/users/olga")
		olga.wantBody(t, "administrator")
		olga.open(t, "/profile")
		olga.wantBody(t, "docker-credential-portus login")
	})
	var callback string
	if cbs := seen(); len(cbs) == 1 {
		callback = cbs[0]
	} else {
		t.Fatalf("saw %d SSO callbacks, want 1: %v", len(cbs), cbs)
	}

	t.Run("leaving the admin group takes administrator rights away", func(t *testing.T) {
		prov.SetGroups("olga", "staff")
		again := newTab(t, browser, s.URL)
		again.open(t, "/signin")
		again.ssoSignIn(t, "olga", "olga-idp-pw", "/profile")
		again.wantPresent(t, `nav a[href="/admin/users"]`, false)
		if resp := again.open(t, "/admin/users"); resp.Status != http.StatusForbidden {
			t.Errorf("/admin/users = %d after leaving the admin group", resp.Status)
		}
	})

	t.Run("a local account of the same name needs an administrator's link", func(t *testing.T) {
		s.portus(t, "pavel-local-password\n", "user", "create", "pavel", "--password-stdin")
		prov.AddUser("pavel", "pavel-idp-pw")
		pavel := newTab(t, browser, s.URL)
		pavel.open(t, "/signin")
		pavel.submit(t, "#sso-signin", http.StatusOK)
		pavel.typeInto(t, oidcprovider.UsernameField, "pavel")
		pavel.typeInto(t, oidcprovider.PasswordField, "pavel-idp-pw")
		pavel.submit(t, oidcprovider.SubmitButton, http.StatusForbidden)
		pavel.wantBody(t, "portus user link-sso pavel")
		s.portus(t, "", "user", "link-sso", "pavel")
		pavel.open(t, "/signin")
		pavel.ssoSignIn(t, "pavel", "pavel-idp-pw", "/profile")
	})

	t.Run("a tampered state is refused", func(t *testing.T) {
		eve := newTab(t, browser, s.URL)
		eve.open(t, "/signin")
		eve.submit(t, "#sso-signin", http.StatusOK) // the provider's login page; the flow cookie is set
		forged := strings.Replace(callback, "state=", "state=x", 1)
		resp, err := chromedp.Run(eve.timeout(t), chromedp.NavigateResponse(forged))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusBadRequest {
			t.Errorf("tampered state: status %d", resp.Status)
		}
		eve.wantBody(t, "could not be matched")
		eve.wantPresent(t, "nav a.me", false)
	})

	t.Run("a replayed callback is refused", func(t *testing.T) {
		mallory := newTab(t, browser, s.URL)
		resp, err := chromedp.Run(mallory.timeout(t), chromedp.NavigateResponse(callback))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusBadRequest {
			t.Errorf("replayed callback: status %d", resp.Status)
		}
		mallory.wantPresent(t, "nav a.me", false)
	})
}
