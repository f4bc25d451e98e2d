package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
)

// deviceLogin is a running `docker-credential-portus login`.
type deviceLogin struct {
	proc *testutil.Process
	out  *testutil.LockedBuffer
	code string // the user code it printed
	uri  string // the verification URI it printed
}

var loginPrompt = regexp.MustCompile(`open (\S+) in a browser and enter the code ([A-Z]{4}-[A-Z]{4})`)

// startLogin starts the helper's login for host and waits for the code.
func startLogin(t *testing.T, w *workstation, host string) *deviceLogin {
	t.Helper()
	cmd := exec.Command(bin.helper, "login", host, "--no-browser")
	cmd.Env = w.env
	l := &deviceLogin{out: &testutil.LockedBuffer{}}
	var err error
	if l.proc, err = testutil.Start(cmd, l.out); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.proc.Kill)
	if err := l.proc.WaitReady(30*time.Second, func() bool { return loginPrompt.MatchString(l.out.String()) }); err != nil {
		t.Fatalf("the login printed no code: %v\n%s", err, l.out)
	}
	m := loginPrompt.FindStringSubmatch(l.out.String())
	l.uri, l.code = m[1], m[2]
	return l
}

// wait waits for the login to end and checks its exit code and that its
// output says want.
func (l *deviceLogin) wait(t *testing.T, code int, want string) {
	t.Helper()
	select {
	case <-l.proc.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("the login did not end:\n%s", l.out)
	}
	if got := l.proc.ExitCode(); got != code || !strings.Contains(l.out.String(), want) {
		t.Fatalf("the login exited %d, want %d saying %q:\n%s", got, code, want, testutil.RedactTokens(l.out.String()))
	}
	if strings.Contains(l.out.String(), "ptk_") {
		t.Fatalf("the login printed a token:\n%s", testutil.RedactTokens(l.out.String()))
	}
}

// approveInBrowser opens the code's page in tab, signing in first with
// signIn when asked to, and clicks button (#device-approve or
// #device-deny).
func approveInBrowser(t *testing.T, tab *tab, l *deviceLogin, signIn func(t *testing.T, back string), button string) {
	t.Helper()
	path := "/device?user_code=" + url.QueryEscape(l.code)
	tab.open(t, path)
	if strings.Contains(tab.location(t), "/signin") {
		tab.wantPath(t, "/signin?next="+url.QueryEscape(path))
		signIn(t, path) // and back, code and all
	}
	tab.submit(t, "#device-continue", http.StatusOK)
	tab.wantText(t, "#device-details", "docker-credential-portus@")
	tab.wantText(t, "#device-code", l.code)
	tab.submit(t, button, http.StatusOK)
}

// passwordSignIn signs name in with a password on tab's sign-in page.
func passwordSignIn(tab *tab, name, password string) func(t *testing.T, back string) {
	return func(t *testing.T, back string) {
		tab.typeInto(t, "#username", name)
		tab.typeInto(t, "#password", password)
		tab.submit(t, "form[action='/signin'] button[type=submit]", http.StatusOK)
		tab.wantPath(t, back)
	}
}

// TestDeviceLoginEndToEnd: `docker-credential-portus login --no-browser`
// prints an address and a code; carol, who has no Portus password, signs
// in through the company's OpenID provider in Chromium and approves; the helper keeps a ptk_ token in gnome-keyring
// and points docker's credHelpers at itself; docker push and pull through
// the real daemon work; docker logout revokes the token. A denial, an
// expired code and Ctrl-C end with a message and no token, and a client
// that polls too fast gets slow_down.
func TestDeviceLoginEndToEnd(t *testing.T) {
	chromium := requireTool(t, "chromium")
	d := startDockerd(t)
	p, prov := startSSOPortus(t)
	reg := startRegistry(t, p)
	prov.AddUser("carol", "carol-idp-password")
	p.createUser(t, "alice", "alice-password", false)
	w := newWorkstation(t, `{"auths": {}, "psFormat": "table {{.ID}}", "credHelpers": {"gcr.io": "gcloud"}}`)
	browser := startChromium(t, chromium)
	carol := newTab(t, browser, p.URL)
	ssoCarol := func(t *testing.T, back string) { carol.ssoSignIn(t, "carol", "carol-idp-password", back) }
	ref := reg.Host + "/carol/device:v1"

	phase(t, "approve", func(t *testing.T) {
		l := startLogin(t, w, reg.Host)
		if l.uri != p.URL+"/device" {
			t.Fatalf("the login sends the user to %s, want %s/device", l.uri, p.URL)
		}
		approveInBrowser(t, carol, l, ssoCarol, "#device-approve")
		carol.wantText(t, "#device-outcome", "gets an application token")
		l.wait(t, 0, "logged in to "+reg.Host+" as carol")
		helperGet(t, w, reg.Host, "carol")
		var cfg map[string]any
		if err := json.Unmarshal([]byte(w.configJSON(t)), &cfg); err != nil {
			t.Fatal(err)
		}
		helpers, _ := cfg["credHelpers"].(map[string]any)
		if helpers[reg.Host] != "portus" || helpers["gcr.io"] != "gcloud" || cfg["psFormat"] != "table {{.ID}}" {
			t.Fatalf("config.json after login: %s", w.configJSON(t))
		}
		if n := len(helperTokensOfUser(t, p, "carol")); n != 1 {
			t.Fatalf("the server lists %d helper tokens of carol, want 1", n)
		}
	})
	phase(t, "push and pull", func(t *testing.T) {
		d.BuildScratch(t, w.env, ref, "device login")
		d.MustDocker(t, w.env, "", "push", ref)
		d.MustDocker(t, w.env, "", "image", "rm", ref)
		d.MustDocker(t, w.env, "", "pull", ref)
	})
	phase(t, "docker logout revokes", func(t *testing.T) {
		d.MustDocker(t, w.env, "", "logout", reg.Host)
		if n := len(helperTokensOfUser(t, p, "carol")); n != 0 {
			t.Fatalf("after docker logout the server lists %d helper tokens of carol, want 0", n)
		}
		if secrets := w.secrets(t); strings.Contains(secrets, "ptk_") {
			t.Fatal("the keyring still holds a token")
		}
	})
	alice := newTab(t, browser, p.URL)
	phase(t, "deny", func(t *testing.T) {
		l := startLogin(t, w, reg.Host)
		approveInBrowser(t, alice, l, passwordSignIn(alice, "alice", "alice-password"), "#device-deny")
		alice.wantText(t, "#device-outcome", "gets no token")
		l.wait(t, 1, "the login was not approved: alice denied the request in the browser; no token was stored")
		wantNoHelperToken(t, w, p, reg.Host)
	})
	phase(t, "forged approval", func(t *testing.T) {
		l := startLogin(t, w, reg.Host)
		alice.open(t, "/device")
		resp := alice.postForged(t, "/device/approve", "user_code", l.code)
		if resp.Status != http.StatusForbidden {
			t.Fatalf("an approval without the CSRF token answered %d, want 403", resp.Status)
		}
		if err := l.proc.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		l.wait(t, 1, "login cancelled: no token was stored")
		wantNoHelperToken(t, w, p, reg.Host)
	})
	phase(t, "slow_down", func(t *testing.T) {
		wantSlowDown(t, p)
	})
}

// TestDeviceLoginExpires: with --device-code-ttl 10s a code nobody
// approves ends the login with a message, and nothing is stored.
func TestDeviceLoginExpires(t *testing.T) {
	p := startPortus(t, "--device-code-ttl", "10s")
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	w := newWorkstation(t, `{}`)
	l := startLogin(t, w, reg.Host)
	l.wait(t, 1, "the code expired before it was approved; no token was stored")
	if !strings.Contains(l.out.String(), "waiting for approval in the browser, 0:") {
		t.Fatalf("no countdown:\n%s", l.out)
	}
	wantNoHelperToken(t, w, p, reg.Host)
	if cfg := w.configJSON(t); cfg != `{}` {
		t.Fatalf("config.json changed: %s", cfg)
	}
}

// wantNoHelperToken checks that nothing is stored for host and that the
// server lists no helper token of alice.
func wantNoHelperToken(t *testing.T, w *workstation, p *portusServer, host string) {
	t.Helper()
	if out, err := w.run(host, bin.helper, "get"); err == nil || !strings.Contains(out, "credentials not found") {
		t.Fatalf("get %s after a failed login: %v\n%s", host, err, testutil.RedactTokens(out))
	}
	if n := len(helperTokens(t, p)); n != 0 {
		t.Fatalf("the server lists %d helper tokens, want 0", n)
	}
}

// wantSlowDown polls a fresh device code twice at once, as a client that
// ignores the interval would, and expects slow_down with the new interval.
func wantSlowDown(t *testing.T, p *portusServer) {
	t.Helper()
	resp, err := http.PostForm(p.URL+apitypes.DeviceCodePath, url.Values{"client_id": {"impatient-client"}})
	if err != nil {
		t.Fatal(err)
	}
	var a apitypes.DeviceAuthorization
	err = json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("device code: %d %v", resp.StatusCode, err)
	}
	poll := func() (int, apitypes.OAuthError) {
		resp, err := http.PostForm(p.URL+apitypes.OAuthTokenPath, url.Values{
			"grant_type": {apitypes.DeviceGrantType}, "device_code": {a.DeviceCode}, "client_id": {"impatient-client"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e apitypes.OAuthError
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e
	}
	if status, e := poll(); status != http.StatusBadRequest || e.Error != apitypes.OAuthPending {
		t.Fatalf("first poll: %d %+v, want authorization_pending", status, e)
	}
	status, e := poll()
	if status != http.StatusBadRequest || e != (apitypes.OAuthError{Error: apitypes.OAuthSlowDown, Description: "polling too fast; poll every 10 seconds"}) {
		t.Fatalf("second poll at once: %d %+v, want slow_down", status, e)
	}
}

// helperTokensOfUser lists the tokens of any user (one without a password
// too) that the helper made, asking the admin socket.
func helperTokensOfUser(t *testing.T, p *portusServer, user string) []apitypes.Token {
	t.Helper()
	resp, err := p.admin().Get("http://portus/api/v1/users/" + url.PathEscape(user) + "/tokens")
	if err != nil {
		t.Fatalf("listing %s's tokens on the admin socket: %v", user, err)
	}
	defer resp.Body.Close()
	var list, mine []apitypes.Token
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("listing %s's tokens on the admin socket: %d, %v", user, resp.StatusCode, err)
	}
	for _, tk := range list {
		if strings.HasPrefix(tk.Name, "docker-credential-portus@") {
			mine = append(mine, tk)
		}
	}
	return mine
}
