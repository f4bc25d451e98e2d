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

// logout runs docker logout for host and checks that the helper's token is
// gone from the server (alice's tokens, listed with password) and from the
// keyring.
func (w *workstation) logout(t *testing.T, host string, p *portusServer, password string) {
	t.Helper()
	w.mustRun(t, "", w.docker, "logout", host)
	if n := len(helperTokensOf(t, p, password)); n != 0 {
		t.Fatalf("after logout the server lists %d helper tokens, want 0", n)
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

// TestHelperWithDockerCLI is the developer's story: docker login with the
// real password, pushes and pulls through the helper, docker logout.
func TestHelperWithDockerCLI(t *testing.T) {
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
			phase(t, "login", func(t *testing.T) {
				out := w.mustRun(t, "alice-password", w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
				if !strings.Contains(out, "Login Succeeded") {
					t.Fatalf("docker login: %s", out)
				}
				if n := len(helperTokens(t, p)); n != 1 {
					t.Fatalf("after login the server lists %d helper tokens, want 1", n)
				}
			})
			phase(t, "config.json", func(t *testing.T) {
				if cfg := w.configJSON(t); testutil.Leaks(cfg, "alice-password", "ptk_", `"auth"`) {
					t.Fatalf("config.json holds a secret:\n%s", testutil.RedactTokens(strings.ReplaceAll(cfg, "alice-password", "[password]")))
				}
			})
			phase(t, "keyring", func(t *testing.T) {
				secrets := w.secrets(t)
				if !strings.Contains(secrets, "ptk_") {
					t.Fatalf("the keyring holds no application token:\n%s", testutil.RedactTokens(secrets))
				}
				if strings.Contains(secrets, "alice-password") {
					t.Fatal("the keyring holds the password")
				}
			})
			phase(t, "push-pull", func(t *testing.T) {
				w.push(t, ref, "through the helper")
				w.mustRun(t, "", w.crane, "pull", ref, filepath.Join(t.TempDir(), "demo.tar"))
			})
			phase(t, "store of our own token", func(t *testing.T) {
				// A bare `docker login HOST` calls get, then store with what
				// get returned (our own token): that must not mint a second
				// token. The CLI only does so with a daemon running, so speak
				// the protocol to the helper directly, as the CLI would.
				got := w.mustRun(t, reg.Host, bin.helper, "get")
				var cred struct{ ServerURL, Username, Secret string }
				if err := json.Unmarshal([]byte(got), &cred); err != nil || !strings.HasPrefix(cred.Secret, "ptk_") || cred.Username != "alice" {
					t.Fatalf("get returned %s (%v)", testutil.RedactTokens(got), err)
				}
				again, _ := json.Marshal(map[string]string{"ServerURL": reg.Host, "Username": cred.Username, "Secret": cred.Secret})
				w.mustRun(t, string(again), bin.helper, "store")
				if n := len(helperTokens(t, p)); n != 1 {
					t.Fatalf("after storing our own token back the server lists %d helper tokens, want 1", n)
				}
			})
			phase(t, "second login", func(t *testing.T) {
				// A second login with the password replaces the token.
				w.mustRun(t, "alice-password", w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
				if n := len(helperTokens(t, p)); n != 1 {
					t.Fatalf("after a second login the server lists %d helper tokens, want 1", n)
				}
				w.mustRun(t, "", w.crane, "pull", ref, filepath.Join(t.TempDir(), "demo.tar"))
			})
			phase(t, "logout", func(t *testing.T) {
				w.logout(t, reg.Host, p, "alice-password")
				out, err := w.run("", w.crane, "pull", ref, filepath.Join(t.TempDir(), "demo.tar"))
				if err == nil || !strings.Contains(out, "UNAUTHORIZED") && !strings.Contains(out, "401") {
					t.Fatalf("crane pull after logout: err %v\n%s", err, out)
				}
			})
		})
	}
}

// TestHelperLogoutWithServerDown: the local copy goes anyway, with a
// warning that names the token still valid and where to revoke it.
func TestHelperLogoutWithServerDown(t *testing.T) {
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	w := newWorkstation(t, `{"credsStore": "portus"}`)
	w.mustRun(t, "alice-password", w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
	if !strings.Contains(w.secrets(t), "ptk_") {
		t.Fatal("login stored no token")
	}
	p.Stop(t)

	out, err := w.run(reg.Host, bin.helper, "erase")
	if err != nil {
		t.Fatalf("erase with the server down failed: %v\n%s", err, testutil.RedactTokens(out))
	}
	if !strings.Contains(out, "docker-credential-portus@") || !strings.Contains(out, p.URL) {
		t.Errorf("the warning does not name the token and where to revoke it:\n%s", testutil.RedactTokens(out))
	}
	if regexp.MustCompile(apptoken.Pattern).MatchString(out) {
		t.Errorf("the warning prints the token:\n%s", testutil.RedactTokens(out))
	}
	w.mustRun(t, "", w.docker, "logout", reg.Host)
	if secrets := w.secrets(t); strings.Contains(secrets, "ptk_") {
		t.Fatalf("the keyring still holds the token:\n%s", testutil.RedactTokens(secrets))
	}
}
