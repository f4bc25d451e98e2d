package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/portusproject/portus/shared/apitypes"
)

// TestRegistryDelegatesToPortus runs real registries configured by
// `portus registry-config` and pushes and pulls with crane as the client:
// Debian's 2.8.2 and distribution's 3.0.0 and 3.1.0 with the default
// rootcertbundle block, 3.x also with the --jwks block (and portus issuing
// kid-only tokens), and 2.8.2 with kid-only tokens, which it finds among
// the bundle's keys. Each setup has its own servers and ports, so they run
// in parallel.
func TestRegistryDelegatesToPortus(t *testing.T) {
	for _, setup := range []registrySetup{
		{version: "2.8.2"},
		{version: "2.8.2", header: "kid"},
		{version: "3.0.0"},
		{version: "3.1.0"},
		{version: "3.0.0", jwks: true, header: "kid"},
		{version: "3.1.0", jwks: true, header: "kid"},
	} {
		t.Run(setup.String(), func(t *testing.T) {
			t.Parallel()
			testRegistryDelegatesToPortus(t, setup)
		})
	}
}

func testRegistryDelegatesToPortus(t *testing.T, setup registrySetup) {
	registryBinary(t, setup.version) // skip or fail before starting anything
	p := startPortus(t, setup.serveArgs()...)
	reg := startRegistryAs(t, p, setup)
	p.createUser(t, "alice", "alice-password", false)
	p.createUser(t, "bob", "bob-password", false)
	p.createUser(t, "root", "root-password", true)
	aliceToken := p.createToken(t, "alice", "ci", "push")
	pullToken := p.createToken(t, "alice", "reader", "pull")

	alice := newCrane(t)
	alice.login(t, reg.Host, "alice", aliceToken)

	t.Run("push and pull with an application token", func(t *testing.T) {
		ref := reg.Host + "/alice/app:token"
		if out, err := alice.push(ref, "pushed with a token"); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		if out, err := alice.run("pull", ref, t.TempDir()+"/image.tar"); err != nil {
			t.Fatalf("pull: %v\n%s", err, out)
		}
	})

	t.Run("push and pull with the password", func(t *testing.T) {
		c := newCrane(t)
		c.login(t, reg.Host, "alice", "alice-password")
		ref := reg.Host + "/alice/app:password"
		if out, err := c.push(ref, "pushed with the password"); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		if out, err := c.run("pull", ref, t.TempDir()+"/image.tar"); err != nil {
			t.Fatalf("pull: %v\n%s", err, out)
		}
	})

	t.Run("no push outside the user's namespace", func(t *testing.T) {
		for _, repo := range []string{"bob/app", "app"} {
			out, err := alice.push(reg.Host+"/"+repo+":x", "not allowed")
			if err == nil {
				t.Fatalf("alice pushed to %s", repo)
			}
			requireAuthRefusal(t, "push to "+repo, out)
		}
	})

	t.Run("a pull token pulls but cannot push", func(t *testing.T) {
		c := newCrane(t)
		c.login(t, reg.Host, "alice", pullToken)
		if out, err := c.run("pull", reg.Host+"/alice/app:token", t.TempDir()+"/image.tar"); err != nil {
			t.Fatalf("pull with a pull token: %v\n%s", err, out)
		}
		out, err := c.push(reg.Host+"/alice/app:pulltoken", "must fail")
		if err == nil {
			t.Fatalf("a pull token pushed:\n%s", out)
		}
		requireAuthRefusal(t, "push with a pull token", out)
	})

	t.Run("catalog for admins only", func(t *testing.T) {
		root := newCrane(t)
		root.login(t, reg.Host, "root", "root-password")
		out, err := root.run("catalog", reg.Host)
		if err != nil {
			t.Fatalf("admin catalog: %v\n%s", err, out)
		}
		if !strings.Contains(out, "alice/app") {
			t.Errorf("catalog does not list alice/app:\n%s", out)
		}
		out, err = alice.run("catalog", reg.Host)
		if err == nil {
			t.Fatalf("a normal user read the catalog:\n%s", out)
		}
		requireAuthRefusal(t, "catalog as a user", out)
	})

	t.Run("a revoked token is refused at once", func(t *testing.T) {
		token := p.createToken(t, "alice", "short-lived", "push")
		if code := registryTokenStatus(t, p, "alice", token, "repository:alice/app:pull"); code != http.StatusOK {
			t.Fatalf("fresh token: /v2/token answered %d", code)
		}
		var list []apitypes.Token
		if code := p.apiJSON(t, http.MethodGet, "/api/v1/tokens", "alice", token, nil, &list); code != http.StatusOK {
			t.Fatalf("listing tokens: %d", code)
		}
		var id string
		for _, tk := range list {
			if tk.Name == "short-lived" {
				id = tk.ID
			}
		}
		if code := p.apiJSON(t, http.MethodDelete, "/api/v1/tokens/"+id, "alice", "alice-password", nil, nil); code != http.StatusNoContent {
			t.Fatalf("revoking: %d", code)
		}
		if code := registryTokenStatus(t, p, "alice", token, "repository:alice/app:pull"); code != http.StatusUnauthorized {
			t.Fatalf("revoked token: /v2/token answered %d, want 401", code)
		}
		c := newCrane(t)
		c.login(t, reg.Host, "alice", token)
		if out, err := c.run("pull", reg.Host+"/alice/app:token", t.TempDir()+"/image.tar"); err == nil {
			t.Fatalf("pulled with a revoked token:\n%s", out)
		}
	})
}

// requireAuthRefusal fails unless crane's output says the registry refused
// for lack of authorization (and not, say, because it was unreachable).
func requireAuthRefusal(t *testing.T, what, out string) {
	t.Helper()
	for _, sign := range []string{"UNAUTHORIZED", "DENIED", "401 Unauthorized", "403 Forbidden"} {
		if strings.Contains(out, sign) {
			return
		}
	}
	t.Errorf("%s failed for another reason than authorization:\n%s", what, out)
}

// registryTokenStatus asks /v2/token for a scope as docker would.
func registryTokenStatus(t *testing.T, p *portusServer, user, secret, scope string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/v2/token?service=registry&scope="+scope, nil)
	req.SetBasicAuth(user, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body apitypes.RegistryToken
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" || body.Token != body.AccessToken || body.ExpiresIn != 300 {
			t.Fatalf("token response malformed: %+v (%v)", body, err)
		}
	}
	return resp.StatusCode
}
