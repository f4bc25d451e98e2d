package web_test

import (
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/internal/testutil/oidcprovider"
	"github.com/portusproject/portus/server/config"
)

// startSSO runs Portus with SSO through a real OpenID provider on
// loopback (zitadel/oidc's op), admin group "registry-admins".
func startSSO(t *testing.T, change func(*config.Config)) (string, *oidcprovider.Provider) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	prov := oidcprovider.Start(t, base+"/signin/oidc/callback")
	c := config.Defaults()
	c.Data = filepath.Join(t.TempDir(), "data")
	c.URL = base
	c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecretFile = prov.Issuer, prov.ClientID, prov.SecretFile
	c.OIDC.Name = "Example Corp"
	c.OIDC.GroupsClaim, c.OIDC.AdminGroup = "groups", "registry-admins"
	if change != nil {
		change(&c)
	}
	serve(t, ln, c)
	return base, prov
}

// ssoCallback starts an SSO sign-in in b from /signin/oidc?next=next,
// signs name in at the provider, and returns the callback path the
// provider sends the browser to (not yet visited).
func ssoCallback(t *testing.T, b *browser, prov *oidcprovider.Provider, next, name, password string) string {
	t.Helper()
	start := b.get("/signin/oidc?next=" + url.QueryEscape(next))
	if start.Status != http.StatusSeeOther || !strings.HasPrefix(start.Location(), prov.Issuer) {
		t.Fatalf("/signin/oidc = %s (Location %q), want a redirect to the provider", start, start.Location())
	}
	if q, _ := url.Parse(start.Location()); q.Query().Get("code_challenge_method") != "S256" || q.Query().Get("nonce") == "" || q.Query().Get("state") == "" {
		t.Errorf("authorization request without PKCE, nonce or state: %s", start.Location())
	}
	cb, err := prov.SignIn(&http.Client{}, start.Location(), name, password)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(cb, b.base)
}

func TestSSOSignInCreatesTheUserAndFollowsTheAdminGroup(t *testing.T) {
	base, prov := startSSO(t, nil)
	prov.AddUser("erin", "erin-idp-pw", "staff", "registry-admins")
	b := newBrowser(t, base)
	if p := b.get("/signin"); !strings.Contains(p.text(), "Sign in with Example Corp") || !strings.Contains(p.Body, `action="/signin"`) {
		t.Fatalf("sign-in page without the SSO button or the password form:\n%s", p)
	}
	done := b.get(ssoCallback(t, b, prov, "/activity", "erin", "erin-idp-pw"))
	if done.Status != http.StatusSeeOther || done.Location() != "/activity" {
		t.Fatalf("callback = %s (Location %q), want the page the sign-in started from", done, done.Location())
	}
	if p := b.get("/admin/users/erin"); p.Status != http.StatusOK || !strings.Contains(p.text(), "erin administrator") {
		t.Fatalf("the admin group did not make erin an administrator: %s", p)
	}
	profile := b.get("/profile")
	if !strings.Contains(profile.text(), "docker-credential-portus login") || strings.Contains(profile.Body, `id="current_password"`) {
		t.Errorf("the profile of an SSO user does not say how to get tokens, or offers a password change:\n%s", profile)
	}
	if registryStatus(t, base, "erin", "erin-idp-pw") != http.StatusUnauthorized {
		t.Error("docker login took the provider's password")
	}

	// Out of the group: no longer an administrator at the next sign-in.
	prov.SetGroups("erin", "staff")
	b2 := newBrowser(t, base)
	if p := b2.get(ssoCallback(t, b2, prov, "", "erin", "erin-idp-pw")); p.Status != http.StatusSeeOther || p.Location() != "/profile" {
		t.Fatalf("second sign-in = %s", p)
	}
	if p := b2.get("/admin/users"); p.Status != http.StatusForbidden {
		t.Errorf("erin left the admin group but is still an administrator: %s", p)
	}
}

func TestSSORefusals(t *testing.T) {
	base, prov := startSSO(t, nil)
	prov.AddUser("gina", "gina-idp-pw")
	signedIn := func(b *browser) bool { return b.get("/profile").Status == http.StatusOK }

	t.Run("tampered state", func(t *testing.T) {
		b := newBrowser(t, base)
		cb := ssoCallback(t, b, prov, "", "gina", "gina-idp-pw")
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", q.Get("state")+"x")
		u.RawQuery = q.Encode()
		if p := b.get(u.String()); p.Status != http.StatusBadRequest || !strings.Contains(p.text(), "could not be matched") || signedIn(b) {
			t.Errorf("tampered state = %s", p)
		}
	})
	t.Run("replayed code", func(t *testing.T) {
		b := newBrowser(t, base)
		cb := ssoCallback(t, b, prov, "", "gina", "gina-idp-pw")
		u, _ := url.Parse(base + "/signin/oidc/callback")
		var flow *http.Cookie
		for _, c := range b.client.Jar.Cookies(u) {
			if c.Name == "portus_oidc" {
				flow = c
			}
		}
		if flow == nil {
			t.Fatal("no portus_oidc cookie for the callback")
		}
		if p := b.get(cb); p.Status != http.StatusSeeOther || !signedIn(b) {
			t.Fatalf("first use = %s", p)
		}
		// Someone holding the callback URL and the flow cookie replays both.
		thief := newBrowser(t, base)
		thief.setCookie("portus_oidc", flow.Value)
		if p := thief.get(cb); p.Status != http.StatusForbidden || signedIn(thief) {
			t.Errorf("replayed code = %s", p)
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		b := newBrowser(t, base)
		cb := ssoCallback(t, b, prov, "", "gina", "gina-idp-pw")
		prov.Tamper(oidcprovider.Tamper{Nonce: "not-this-sign-in"}) // the ID token signed for this code
		if p := b.get(cb); p.Status != http.StatusForbidden || !strings.Contains(p.text(), "could not be verified") || signedIn(b) {
			t.Errorf("wrong nonce = %s", p)
		}
	})
	t.Run("expired ID token", func(t *testing.T) {
		b := newBrowser(t, base)
		cb := ssoCallback(t, b, prov, "", "gina", "gina-idp-pw")
		prov.Tamper(oidcprovider.Tamper{Expired: true})
		if p := b.get(cb); p.Status != http.StatusForbidden || !strings.Contains(p.text(), "could not be verified") || signedIn(b) {
			t.Errorf("expired ID token = %s", p)
		}
	})
	t.Run("code of another client", func(t *testing.T) {
		// Portus' own authorization request, with another application's
		// client_id: the provider signs gina in for that application and
		// sends its code, with Portus' state, to Portus' callback.
		b := newBrowser(t, base)
		start := b.get("/signin/oidc")
		u, _ := url.Parse(start.Location())
		q := u.Query()
		q.Set("client_id", oidcprovider.OtherClientID)
		u.RawQuery = q.Encode()
		cb, err := prov.SignIn(&http.Client{}, u.String(), "gina", "gina-idp-pw")
		if err != nil {
			t.Fatal(err)
		}
		if p := b.get(strings.TrimPrefix(cb, base)); p.Status != http.StatusForbidden || signedIn(b) {
			t.Errorf("another client's code = %s", p)
		}
	})
	t.Run("ID token for another audience", func(t *testing.T) {
		// The provider answers Portus' code with an ID token it really
		// signed, for this sign-in's nonce, but issued to another client:
		// only Portus' audience check stands in the way.
		b := newBrowser(t, base)
		p := b.get(ssoCallbackWithIDToken(t, b, prov, oidcprovider.OtherClientID, prov.OtherClientSecret))
		if p.Status != http.StatusForbidden || !strings.Contains(p.text(), "could not be verified") || signedIn(b) {
			t.Errorf("ID token for %s = %s", oidcprovider.OtherClientID, p)
		}
		// The same exchange with a token issued to Portus signs in: what
		// was refused above is the audience, not the substitution.
		own := newBrowser(t, base)
		if p := own.get(ssoCallbackWithIDToken(t, own, prov, prov.ClientID, prov.ClientSecret)); p.Status != http.StatusSeeOther || !signedIn(own) {
			t.Errorf("ID token for Portus = %s", p)
		}
	})
	t.Run("local account of the same name", func(t *testing.T) {
		b := newBrowser(t, base)
		b.signUp("hank", "hank-local-password")
		prov.AddUser("hank", "hank-idp-pw")
		other := newBrowser(t, base)
		p := other.get(ssoCallback(t, other, prov, "", "hank", "hank-idp-pw"))
		if p.Status != http.StatusForbidden || !strings.Contains(p.text(), "link-sso hank") || signedIn(other) {
			t.Errorf("SSO into a local account = %s", p)
		}
	})
}

// TestSSOProviderDown: a provider that is not answering does not stop
// the server; the sign-in says so, and password sign-in still works.
func TestSSOProviderDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	base, _ := startSSO(t, func(c *config.Config) { c.OIDC.Issuer = closed })
	b := newBrowser(t, base)
	if p := b.get("/signin/oidc"); p.Status != http.StatusServiceUnavailable || !strings.Contains(p.text(), "Example Corp is not answering") {
		t.Errorf("/signin/oidc with the provider down = %s", p)
	}
	b.signUp("ivan", "ivan-local-password")
}

func TestSSOOnlyHidesPasswords(t *testing.T) {
	base, _ := startSSO(t, func(c *config.Config) { c.OIDC.Only = true })
	b := newBrowser(t, base)
	p := b.get("/signin")
	if !strings.Contains(p.text(), "Sign in with Example Corp") || strings.Contains(p.Body, `id="password"`) || strings.Contains(p.Body, `href="/signup"`) {
		t.Errorf("oidc.only sign-in page:\n%s", p)
	}
}
