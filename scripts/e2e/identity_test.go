package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// Identity tokens: a docker login with a password makes the token server
// answer a refresh_token (a login token), which the CLI keeps instead of
// the password. These tests use no helper: config.json is all docker has.

// dockerAuth is one entry of config.json's "auths".
type dockerAuth struct {
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
}

// identityOf reads config.json in dir and checks that host's entry holds
// an identity token and no password: its "auth" decodes to "USER:" at
// most. It returns the identity token.
func identityOf(t *testing.T, dir, host, user, password string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if testutil.Leaks(string(data), password) {
		t.Fatal("config.json holds the password")
	}
	var cfg struct{ Auths map[string]dockerAuth }
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	a := cfg.Auths[host]
	if !apptoken.Valid(a.IdentityToken) {
		t.Fatalf("config.json holds no identity token for %s:\n%s", host, testutil.RedactTokens(string(data)))
	}
	if a.Auth != "" {
		plain, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil || string(plain) != user+":" {
			t.Fatalf("config.json's auth for %s is not %q: %s", host, user+":", testutil.RedactTokens(string(plain)))
		}
	}
	return a.IdentityToken
}

// tokensOf lists user's tokens, asking with password, split into login
// tokens and application tokens.
func tokensOf(t *testing.T, p *portusServer, user, password string) (login, app []apitypes.Token) {
	t.Helper()
	var list []apitypes.Token
	if code := p.apiJSON(t, http.MethodGet, apitypes.TokensPath, user, password, nil, &list); code != http.StatusOK {
		t.Fatalf("listing %s's tokens: %d", user, code)
	}
	for _, tk := range list {
		if tk.CreatedVia == apitypes.ViaDockerLogin {
			login = append(login, tk)
		} else {
			app = append(app, tk)
		}
	}
	return login, app
}

// loginTokensOf lists alice's login tokens, asking with password.
func loginTokensOf(t *testing.T, p *portusServer, password string) []apitypes.Token {
	t.Helper()
	login, _ := tokensOf(t, p, "alice", password)
	return login
}

// bearerJSON calls the JSON API with "Authorization: Bearer secret".
func (s *portusServer) bearerJSON(t *testing.T, method, path, secret string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decoding: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// newest is the login token created last.
func newest(list []apitypes.Token) apitypes.Token {
	n := list[0]
	for _, tk := range list[1:] {
		if tk.CreatedAt.After(n.CreatedAt) {
			n = tk
		}
	}
	return n
}

// TestIdentityTokenDockerLoginWithoutHelper: with no helper, docker login
// through the daemon leaves a login token in config.json and no password;
// push and pull use it; revoking it ends access; logins add login tokens
// up to the cap, where the least recently used one goes; the application
// tokens' slots stay free.
func TestIdentityTokenDockerLoginWithoutHelper(t *testing.T) {
	d := startDockerd(t)
	p := startPortus(t, "--flush-interval", "100ms")
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	env, dir := dockerClientEnv(t, `{}`)
	ref := reg.Host + "/alice/demo:v1"
	login := func(t *testing.T) string {
		t.Helper()
		out := d.MustDocker(t, env, "alice-password", "login", reg.Host, "-u", "alice", "--password-stdin")
		if !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login: %s", testutil.RedactTokens(out))
		}
		return identityOf(t, dir, reg.Host, "alice", "alice-password")
	}
	// Four of the five application-token slots, taken before any login.
	var apps []string
	for i := range 4 {
		apps = append(apps, p.createToken(t, "alice", fmt.Sprintf("app-%d", i), "pull"))
	}

	var first string
	phase(t, "login", func(t *testing.T) {
		first = login(t)
		if n := len(loginTokensOf(t, p, "alice-password")); n != 1 {
			t.Fatalf("after docker login the API lists %d login tokens, want 1", n)
		}
		// The JSON API takes the bare token, as a helper holding only it
		// calls it.
		if code := p.bearerJSON(t, http.MethodGet, apitypes.TokensPath, first, nil); code != http.StatusOK {
			t.Fatalf("GET %s with the identity token as Bearer: %d", apitypes.TokensPath, code)
		}
	})
	phase(t, "push-pull", func(t *testing.T) {
		d.BuildScratch(t, env, ref, "identity token, no helper")
		mark := len(p.log.String())
		d.MustDocker(t, env, "", "push", ref)
		d.MustDocker(t, env, "", "image", "rm", ref)
		d.MustDocker(t, env, "", "pull", ref)
		// config.json has no password: the daemon used the refresh grant.
		if posts, gets := tokenRequests(p, mark); posts == 0 || gets != 0 {
			t.Errorf("push and pull: %d POST and %d GET /v2/token answered 200, want the refresh grant (POST) only", posts, gets)
		}
	})
	var second string
	phase(t, "second login", func(t *testing.T) {
		second = login(t)
		if second == first {
			t.Fatal("the second login kept the first identity token")
		}
		if n := len(loginTokensOf(t, p, "alice-password")); n != 2 {
			t.Fatalf("after a second docker login the API lists %d login tokens, want 2", n)
		}
	})
	phase(t, "revoke", func(t *testing.T) {
		list := loginTokensOf(t, p, "alice-password")
		id := newest(list).ID
		if code := p.apiJSON(t, http.MethodDelete, apitypes.TokensPath+"/"+id, "alice", "alice-password", nil, nil); code/100 != 2 {
			t.Fatalf("revoking the login token: %d", code)
		}
		d.MustDocker(t, env, "", "image", "rm", ref)
		if out, err := d.Docker(env, "", "pull", ref); err == nil {
			t.Fatalf("docker pull with a revoked identity token succeeded:\n%s", out)
		}
	})
	phase(t, "cap", func(t *testing.T) { loginTokenCap(t, d, p, env, dir, reg.Host, first) })
	phase(t, "app slots", func(t *testing.T) {
		apps = append(apps, p.createToken(t, "alice", "app-4", "pull"))
		_, listed := tokensOf(t, p, "alice", "alice-password")
		if len(listed) != 5 {
			t.Fatalf("the API lists %d application tokens, want the 5 made", len(listed))
		}
		for _, app := range apps {
			if !apptoken.Valid(app) {
				t.Fatalf("portus token create printed no token: %s", apptoken.Redact(app))
			}
		}
	})
}

// loginTokenCap logs in until alice holds 10 login tokens (the default
// cap), uses first (the oldest) with crane so that another one is the
// least recently used, and checks that the 11th login revokes that one
// and keeps first.
func loginTokenCap(t *testing.T, d *dockerd, p *portusServer, env []string, dir, host, first string) {
	for n := len(loginTokensOf(t, p, "alice-password")); n < 10; n++ {
		d.MustDocker(t, env, "alice-password", "login", host, "-u", "alice", "--password-stdin")
	}
	before := loginTokensOf(t, p, "alice-password")
	if len(before) != 10 {
		t.Fatalf("after the logins the API lists %d login tokens, want 10", len(before))
	}
	c := newCrane(t)
	writeIdentityConfig(t, c.config, host, first)
	used := time.Now()
	if out, err := c.run("manifest", host+"/alice/demo:v1"); err != nil {
		t.Fatalf("crane with the first identity token: %v\n%s", err, testutil.RedactTokens(out))
	}
	// Last use is written in batches (--flush-interval 100ms): wait until
	// a token — first, the only one used since — shows this use; the least
	// recently used is then the oldest of the others.
	var lru apitypes.Token
	waitFor(t, nil, func() bool {
		seen := false
		lru = apitypes.Token{}
		for _, tk := range loginTokensOf(t, p, "alice-password") {
			if tk.LastUsedAt != nil && !tk.LastUsedAt.Before(used.Truncate(time.Second)) {
				seen = true
				continue
			}
			if lru.ID == "" || lastActive(tk).Before(lastActive(lru)) {
				lru = tk
			}
		}
		return seen
	}, "the first login token's use to be recorded")
	d.MustDocker(t, env, "alice-password", "login", host, "-u", "alice", "--password-stdin")
	after := loginTokensOf(t, p, "alice-password")
	if len(after) != 10 {
		t.Fatalf("after the 11th login the API lists %d login tokens, want 10", len(after))
	}
	for _, tk := range after {
		if tk.ID == lru.ID {
			t.Fatalf("the 11th login kept the least recently used login token %q", lru.Name)
		}
	}
	if out, err := c.run("manifest", host+"/alice/demo:v1"); err != nil {
		t.Fatalf("the 11th login revoked the recently used first token: %v\n%s", err, testutil.RedactTokens(out))
	}
}

func lastActive(tk apitypes.Token) time.Time {
	if tk.LastUsedAt != nil {
		return *tk.LastUsedAt
	}
	return tk.CreatedAt
}

// writeIdentityConfig writes a config.json holding only an identity token
// for host, as docker login leaves it.
func writeIdentityConfig(t *testing.T, dir, host, identity string) {
	t.Helper()
	cfg := map[string]any{"auths": map[string]any{host: map[string]string{"identitytoken": identity}}}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}
