package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/server/ldapauth/ldaptest"
	"github.com/portusproject/portus/shared/apitypes"
)

// startPortusWithLDAP runs `portus serve --config FILE` against a
// throwaway slapd (alice in the admins group, bob not). extra is appended
// to the YAML file.
func startPortusWithLDAP(t *testing.T, extra string) (*portusServer, *ldaptest.Server) {
	t.Helper()
	dir := ldaptest.Start(t)
	conf := fmt.Sprintf(`ldap:
  url: %s
  bind_dn: %s
  bind_password_file: %s
  base: %s
  admin_group: %s
  timeout: 2s
%s`, dir.URL, ldaptest.ServiceDN, dir.BindPasswordFile(t), ldaptest.People, ldaptest.AdminsGroup, extra)
	path := filepath.Join(t.TempDir(), "portus.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return startPortus(t, "--config", path), dir
}

// ldapHelperTokens lists the tokens the helper made for alice, signing in
// with her directory password.
func ldapHelperTokens(t *testing.T, p *portusServer) []apitypes.Token {
	t.Helper()
	return helperTokensOf(t, p, ldaptest.AlicePassword)
}

// TestHelperWithLDAPUser is the helper's story for a company account: the
// password is the directory's, and it never lands on the workstation.
func TestHelperWithLDAPUser(t *testing.T) {
	p, dir := startPortusWithLDAP(t, "")
	reg := startRegistry(t, p)
	w := newWorkstation(t, `{"credsStore": "portus"}`)

	ref := reg.Host + "/alice/demo:v1"
	phase(t, "login", func(t *testing.T) {
		out := w.mustRun(t, ldaptest.AlicePassword, w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
		if !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login: %s", out)
		}
	})
	phase(t, "config.json", func(t *testing.T) {
		if cfg := w.configJSON(t); testutil.Leaks(cfg, ldaptest.AlicePassword, "ptk_", `"auth"`) {
			t.Fatalf("config.json holds a secret:\n%s", cfg)
		}
	})
	phase(t, "keyring", func(t *testing.T) {
		secrets := w.secrets(t)
		if !strings.Contains(secrets, "ptk_") {
			t.Fatalf("the keyring holds no application token:\n%s", testutil.RedactTokens(secrets))
		}
		if strings.Contains(secrets, ldaptest.AlicePassword) {
			t.Fatal("the keyring holds the LDAP password")
		}
		// docker login asked for an offline token: the keyring holds
		// the identity token, a login token of the server.
		if n := len(loginTokensOf(t, p, ldaptest.AlicePassword)); n != 1 {
			t.Fatalf("after login the server lists %d login tokens, want 1", n)
		}
	})
	phase(t, "user from the directory", func(t *testing.T) {
		// The first sign-in created alice from the directory.
		var u apitypes.User
		if code := p.apiJSON(t, http.MethodGet, "/api/v1/users/alice", "alice", ldaptest.AlicePassword, nil, &u); code != http.StatusOK ||
			u.Source != "ldap" || u.Email != "alice@example.org" || !u.Admin {
			t.Fatalf("alice: %d %+v", code, u)
		}
	})
	phase(t, "push-pull", func(t *testing.T) {
		w.push(t, ref, "through the helper, for an LDAP user")
		// Pushes and pulls use the token: the directory sees no more binds.
		binds := dir.Binds(ldaptest.UserDN("alice"))
		w.mustRun(t, "", w.crane, "pull", ref, filepath.Join(t.TempDir(), "demo.tar"))
		if n := dir.Binds(ldaptest.UserDN("alice")); n != binds {
			t.Errorf("a pull with the helper's token made %d binds", n-binds)
		}
	})
	phase(t, "logout", func(t *testing.T) {
		w.logout(t, reg.Host, p, ldaptest.AlicePassword)
	})
	phase(t, "web sign-in", func(t *testing.T) {
		// The web sign-in takes the directory password.
		if status := webSignIn(t, p.URL, "alice", ldaptest.AlicePassword); status != http.StatusSeeOther && status != http.StatusFound {
			t.Errorf("web sign-in with the LDAP password: %d, want a redirect", status)
		}
	})
}

// TestDockerLoginTokensOnlyWithLDAP: the server requires tokens for docker
// login; docker login refuses alice's directory password with a message
// that says what to do, and stores the token she then gives it as is. An
// administrator can let one user use the password.
func TestDockerLoginTokensOnlyWithLDAP(t *testing.T) {
	p, dir := startPortusWithLDAP(t, "docker_login: tokens_only\n")
	reg := startRegistry(t, p)
	w := newWorkstation(t, `{"credsStore": "portus"}`)
	login := func(secret string) (string, error) {
		return w.run(secret, w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
	}

	var created apitypes.CreatedToken
	phase(t, "the password is refused", func(t *testing.T) {
		out, err := login(ldaptest.AlicePassword)
		if err == nil || strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login with the password under tokens_only succeeded:\n%s", out)
		}
		if !strings.Contains(out, p.URL+"/profile") || !strings.Contains(out, "application token") {
			t.Errorf("docker login does not tell the user what to do:\n%s", out)
		}
		t.Logf("docker login with the password says:\n%s", out)
		if secrets := w.secrets(t); testutil.Leaks(secrets, ldaptest.AlicePassword, "ptk_") {
			t.Fatalf("the refused login left a secret in the keyring:\n%s", testutil.RedactTokens(secrets))
		}
		if cfg := w.configJSON(t); strings.Contains(cfg, ldaptest.AlicePassword) {
			t.Fatalf("config.json holds the password:\n%s", cfg)
		}
		if n := dir.Binds(ldaptest.UserDN("alice")); n != 0 {
			t.Errorf("the refused password was sent to the directory (%d binds)", n)
		}
	})
	phase(t, "login with a token", func(t *testing.T) {
		// Alice makes a token with her password (as on the profile page, or a
		// script) and logs in with it: the helper stores that token as is.
		created = createTokenWithPassword(t, p, "alice", ldaptest.AlicePassword, "workstation")
		binds := dir.WaitBinds(ldaptest.UserDN("alice"), 1)
		out := w.mustRun(t, created.Token, w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
		if !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login with a token: %s", out)
		}
		if secrets := w.secrets(t); !strings.Contains(secrets, created.Token) {
			t.Fatalf("the keyring does not hold the token given:\n%s", testutil.RedactTokens(secrets))
		}
		if n := len(ldapHelperTokens(t, p)); n != 0 {
			t.Errorf("the helper minted %d tokens of its own for a token login", n)
		}
		ref := reg.Host + "/alice/tokens-only:v1"
		w.push(t, ref, "tokens only")
		if n := dir.Binds(ldaptest.UserDN("alice")); n != binds+1 { // the listing in ldapHelperTokens
			t.Errorf("logging in and pushing with a token made %d binds", n-binds-1)
		}
	})
	phase(t, "web sign-in", func(t *testing.T) {
		// The web sign-in still takes the password; a token is refused there.
		if status := webSignIn(t, p.URL, "alice", ldaptest.AlicePassword); status != http.StatusSeeOther && status != http.StatusFound {
			t.Errorf("web sign-in with the LDAP password under tokens_only: %d, want a redirect", status)
		}
		if status := webSignIn(t, p.URL, "alice", created.Token); status != http.StatusUnauthorized {
			t.Errorf("web sign-in with a token: %d, want 401", status)
		}
	})
	phase(t, "passwords allowed for alice", func(t *testing.T) {
		// An administrator lets alice use her password for docker login …
		p.portus(t, "", "user", "set-docker-login", "alice", "passwords_allowed")
		if out, _, err := p.try("", "user", "set-docker-login", "alice", "sometimes"); err == nil {
			t.Errorf("set-docker-login accepted a bad policy: %s", out)
		}
		w.mustRun(t, "", w.docker, "logout", reg.Host)
		out := w.mustRun(t, ldaptest.AlicePassword, w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
		if n := len(loginTokensOf(t, p, ldaptest.AlicePassword)); !strings.Contains(out, "Login Succeeded") || n != 1 {
			t.Fatalf("docker login with the password, now allowed: %d login tokens\n%s", n, out)
		}
		if secrets := w.secrets(t); strings.Contains(secrets, ldaptest.AlicePassword) || !strings.Contains(secrets, "ptk_") {
			t.Fatalf("the keyring after a password login:\n%s", testutil.RedactTokens(secrets))
		}
	})
	phase(t, "policy reset", func(t *testing.T) {
		// … and takes it back: the server's policy applies again.
		p.portus(t, "", "user", "set-docker-login", "alice", "default")
		if out, err := login(ldaptest.AlicePassword); err == nil {
			t.Fatalf("docker login with the password after the reset succeeded:\n%s", out)
		}
	})
}

// createTokenWithPassword mints a token over POST /api/v1/tokens, as a
// script would with the user's password.
func createTokenWithPassword(t *testing.T, p *portusServer, user, password, name string) apitypes.CreatedToken {
	t.Helper()
	body, _ := json.Marshal(apitypes.CreateTokenRequest{Name: name})
	req, err := http.NewRequest(http.MethodPost, p.URL+apitypes.TokensPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var created apitypes.CreatedToken
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(data, &created) != nil {
		t.Fatalf("creating a token with the password: %d %s", resp.StatusCode, data)
	}
	return created
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// webSignIn fills in the sign-in form as a browser would and returns the
// status of the answer (a redirect on success).
func webSignIn(t *testing.T, base, user, password string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("no web sign-in form at %s/signin (%d)", base, resp.StatusCode)
	}
	form := url.Values{"csrf_token": {html.UnescapeString(string(m[1]))}, "username": {user}, "password": {password}}
	resp, err = client.PostForm(base+"/signin", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
