package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// workstation is a developer's machine: a desktop session with a keyring,
// a Docker config directory, and docker-credential-portus on PATH.
type workstation struct {
	*desktop
	dockerConfig string
	docker       string
	crane        string
}

func newWorkstation(t *testing.T, dockerConfigJSON string) *workstation {
	t.Helper()
	if _, err := os.Stat(bin.helper); err != nil {
		t.Fatalf("docker-credential-portus was not built: %v", err)
	}
	w := &workstation{
		desktop: startDesktop(t),
		docker:  requireTool(t, "docker"),
		crane:   requireTool(t, "crane"),
	}
	w.dockerConfig = filepath.Join(w.home, ".docker")
	if err := os.MkdirAll(w.dockerConfig, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dockerConfig, "config.json"), []byte(dockerConfigJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	w.env = append(w.env, "DOCKER_CONFIG="+w.dockerConfig, "PATH="+bin.dir+":"+os.Getenv("PATH"))
	return w
}

// run runs a command of the workstation with stdin and returns its
// combined output.
func (w *workstation) run(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = w.env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (w *workstation) mustRun(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := w.run(stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return out
}

// logout runs docker logout for host and checks that the helper's token
// (its own, or the identity token of docker login) is gone from the server (alice's tokens, listed with password) and from the
// keyring.
func (w *workstation) logout(t *testing.T, host string, p *portusServer, password string) {
	t.Helper()
	w.mustRun(t, "", w.docker, "logout", host)
	if n := len(helperTokensOf(t, p, password)) + len(loginTokensOf(t, p, password)); n != 0 {
		t.Fatalf("after logout the server lists %d helper or login tokens, want 0", n)
	}
	if secrets := w.secrets(t); strings.Contains(secrets, "ptk_") {
		t.Fatalf("the keyring still holds a token after logout:\n%s", testutil.RedactTokens(secrets))
	}
}

// push uploads a one-layer image holding content to ref with crane,
// through the helper.
func (w *workstation) push(t *testing.T, ref, content string) {
	t.Helper()
	layer, err := layerTar(content)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(layer)
	w.mustRun(t, "", w.crane, "append", "--new_layer", layer, "--new_tag", ref)
}

func (w *workstation) configJSON(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.dockerConfig, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// helperTokens lists alice's tokens that the helper made.
func helperTokens(t *testing.T, p *portusServer) []apitypes.Token {
	t.Helper()
	return helperTokensOf(t, p, "alice-password")
}

// helperTokensOf lists alice's tokens that the helper made, asking with
// her password.
func helperTokensOf(t *testing.T, p *portusServer, password string) []apitypes.Token {
	t.Helper()
	var list, mine []apitypes.Token
	if code := p.apiJSON(t, http.MethodGet, "/api/v1/tokens", "alice", password, nil, &list); code != http.StatusOK {
		t.Fatalf("listing alice's tokens: %d", code)
	}
	for _, tk := range list {
		if strings.HasPrefix(tk.Name, "docker-credential-portus@") {
			mine = append(mine, tk)
		}
	}
	return mine
}

// TestHelperWithDockerCLI is the developer's story, through the real
// Docker daemon: docker login with the real password, which the daemon
// turns into an identity token (a login token of the server) that the
// CLI hands the helper; build, push and pull; a second login; docker
// logout, which revokes the token on the server. Between them a bare
// `docker login HOST`: the CLI reuses stored credentials only when they
// hold a username and a password, so the helper's get answers the
// token's owner (learnt at store) with the token, which the daemon then
// logs in with — no prompt, no new token.
func TestHelperWithDockerCLI(t *testing.T) {
	d := startDockerd(t)
	for _, mode := range []string{"credsStore", "credHelpers"} {
		t.Run(mode, func(t *testing.T) {
			p := startPortus(t)
			reg := startRegistry(t, p)
			p.createUser(t, "alice", "alice-password", false)
			config := `{"credsStore": "portus"}`
			if mode == "credHelpers" {
				config = fmt.Sprintf(`{"credHelpers": {%q: "portus"}}`, reg.Host)
			}
			w := newWorkstation(t, config)

			ref := reg.Host + "/alice/demo:v1"
			var identity string
			phase(t, "login", func(t *testing.T) {
				out := d.MustDocker(t, w.env, "alice-password", "login", reg.Host, "-u", "alice", "--password-stdin")
				if !strings.Contains(out, "Login Succeeded") {
					t.Fatalf("docker login: %s", testutil.RedactTokens(out))
				}
				if n := len(loginTokensOf(t, p, "alice-password")); n != 1 {
					t.Fatalf("after login the server lists %d login tokens, want 1", n)
				}
				if n := len(helperTokens(t, p)); n != 0 {
					t.Fatalf("the helper exchanged the password too: %d helper tokens", n)
				}
			})
			phase(t, "config.json", func(t *testing.T) {
				if cfg := w.configJSON(t); testutil.Leaks(cfg, "alice-password", "ptk_", `"auth"`, "identitytoken") {
					t.Fatalf("config.json holds a secret:\n%s", testutil.RedactTokens(strings.ReplaceAll(cfg, "alice-password", "[password]")))
				}
			})
			phase(t, "keyring", func(t *testing.T) {
				identity = helperGet(t, w, reg.Host, "alice")
				if secrets := w.secrets(t); strings.Contains(secrets, "alice-password") {
					t.Fatal("the keyring holds the password")
				}
			})
			phase(t, "build-push-pull", func(t *testing.T) {
				d.BuildScratch(t, w.env, ref, "through the helper, "+mode)
				d.MustDocker(t, w.env, "", "push", ref)
				d.MustDocker(t, w.env, "", "image", "rm", ref)
				d.MustDocker(t, w.env, "", "pull", ref)
			})
			phase(t, "bare login", func(t *testing.T) {
				bareLogin(t, d, w, p, reg.Host, identity, 1, 0)
				d.MustDocker(t, w.env, "", "image", "rm", ref)
				d.MustDocker(t, w.env, "", "pull", ref)
			})
			phase(t, "second login", func(t *testing.T) {
				// A second password login brings a new identity token; the
				// helper revokes the one it replaces.
				d.MustDocker(t, w.env, "alice-password", "login", reg.Host, "-u", "alice", "--password-stdin")
				if n := len(loginTokensOf(t, p, "alice-password")); n != 1 {
					t.Fatalf("after a second login the server lists %d login tokens, want 1", n)
				}
				if again := helperGet(t, w, reg.Host, "alice"); again == identity {
					t.Fatal("the second login kept the first identity token")
				}
				d.MustDocker(t, w.env, "", "image", "rm", ref)
				d.MustDocker(t, w.env, "", "pull", ref)
			})
			phase(t, "logout", func(t *testing.T) {
				d.MustDocker(t, w.env, "", "logout", reg.Host)
				if n := len(loginTokensOf(t, p, "alice-password")); n != 0 {
					t.Fatalf("after logout the server lists %d login tokens, want 0", n)
				}
				if secrets := w.secrets(t); strings.Contains(secrets, "ptk_") {
					t.Fatalf("the keyring still holds a token after logout:\n%s", testutil.RedactTokens(secrets))
				}
				d.MustDocker(t, w.env, "", "image", "rm", ref)
				out, err := d.Docker(w.env, "", "pull", ref)
				if err == nil {
					t.Fatalf("docker pull after logout succeeded:\n%s", out)
				}
			})
		})
	}
}

// TestHelperExchangeForPasswordClients: a client that keeps the password
// (crane here; podman and skopeo alike) gets it exchanged by the helper
// for an application token of its own, and logout revokes that.
func TestHelperExchangeForPasswordClients(t *testing.T) {
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	w := newWorkstation(t, `{"credsStore": "portus"}`)
	w.mustRun(t, "alice-password", w.crane, "auth", "login", reg.Host, "-u", "alice", "--password-stdin")
	if n := len(helperTokens(t, p)); n != 1 {
		t.Fatalf("after crane auth login the server lists %d helper tokens, want 1", n)
	}
	token := helperGet(t, w, reg.Host, "alice")
	ref := reg.Host + "/alice/demo:v1"
	w.push(t, ref, "through the helper's exchange")
	w.mustRun(t, "", w.crane, "pull", ref, filepath.Join(t.TempDir(), "demo.tar"))

	// A bare `docker login HOST` through the daemon: the CLI calls get,
	// the daemon logs in with the stored token (no login token: it is a
	// token already), and store gets it back. Nothing new anywhere.
	d := startDockerd(t)
	bareLogin(t, d, w, p, reg.Host, token, 0, 1)
	d.MustDocker(t, w.env, "", "pull", ref)
	w.logout(t, reg.Host, p, "alice-password")
	out, err := w.run("", w.crane, "pull", ref, filepath.Join(t.TempDir(), "demo.tar"))
	if err == nil || !strings.Contains(out, "UNAUTHORIZED") && !strings.Contains(out, "401") {
		t.Fatalf("crane pull after logout: err %v\n%s", err, out)
	}
}

// bareLogin runs `docker login HOST` through the daemon with no -u and
// nothing on stdin (not a terminal, so a prompt fails), and checks that it
// succeeded with alice's stored token, left it stored as it was, and that
// the server still lists wantLogin login and wantApps application tokens:
// nothing new.
func bareLogin(t *testing.T, d *dockerd, w *workstation, p *portusServer, host, stored string, wantLogin, wantApps int) {
	t.Helper()
	out := d.MustDocker(t, w.env, "", "login", host)
	if !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("bare docker login: %s", testutil.RedactTokens(out))
	}
	login, apps := tokensOf(t, p, "alice", "alice-password")
	if len(login) != wantLogin || len(apps) != wantApps {
		t.Fatalf("after a bare docker login the server lists %d login and %d application tokens, want %d and %d", len(login), len(apps), wantLogin, wantApps)
	}
	if again := helperGet(t, w, host, "alice"); again != stored {
		t.Fatal("a bare docker login replaced the stored token")
	}
}

// helperGet is what the helper's get returns for server: it checks the
// username and that the secret is an application token, and returns it.
func helperGet(t *testing.T, w *workstation, server, wantUser string) string {
	t.Helper()
	got := w.mustRun(t, server, bin.helper, "get")
	var cred struct{ Username, Secret string }
	if err := json.Unmarshal([]byte(got), &cred); err != nil || !apptoken.Valid(cred.Secret) || cred.Username != wantUser {
		t.Fatalf("get %s returned %s (%v), want username %q and a token", server, testutil.RedactTokens(got), err, wantUser)
	}
	return cred.Secret
}

// TestHelperLogoutWithServerDown: the local copy of the identity token
// goes anyway, with a warning that names the token still valid and where
// to revoke it.
func TestHelperLogoutWithServerDown(t *testing.T) {
	d := startDockerd(t)
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	w := newWorkstation(t, `{"credsStore": "portus"}`)
	d.MustDocker(t, w.env, "alice-password", "login", reg.Host, "-u", "alice", "--password-stdin")
	helperGet(t, w, reg.Host, "alice")
	p.Stop(t)

	out, err := w.run(reg.Host, bin.helper, "erase")
	if err != nil {
		t.Fatalf("erase with the server down failed: %v\n%s", err, testutil.RedactTokens(out))
	}
	if !strings.Contains(out, "identity token of docker login") || !strings.Contains(out, p.URL+"/profile") {
		t.Errorf("the warning does not name the token and where to revoke it:\n%s", testutil.RedactTokens(out))
	}
	if regexp.MustCompile(apptoken.Pattern).MatchString(out) {
		t.Errorf("the warning prints the token:\n%s", testutil.RedactTokens(out))
	}
	d.MustDocker(t, w.env, "", "logout", reg.Host)
	if secrets := w.secrets(t); strings.Contains(secrets, "ptk_") {
		t.Fatalf("the keyring still holds the token:\n%s", testutil.RedactTokens(secrets))
	}
}
