package credhelper_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/helper/credhelper"
	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
)

// dockerConfig is a docker config.json with fields login must keep.
const dockerConfig = `{
  "auths": {"other.example.com": {"auth": "b3RoZXI6c2VjcmV0"}},
  "credsStore": "desktop",
  "credHelpers": {"gcr.io": "gcloud"},
  "plugins": {"x": {"nested": [1, 2.50, "three"]}}
}`

// withDockerConfig points DOCKER_CONFIG at a directory whose config.json
// holds content with mode, and returns the file's path.
func withDockerConfig(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	path := filepath.Join(dir, "config.json")
	if content != "" {
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func decodeJSON(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return v
}

func TestLoginStoresTokenAndPointsDocker(t *testing.T) {
	e := newEnv(t)
	path := withDockerConfig(t, dockerConfig, 0o640)
	e.portus.DeviceAnswers(apitypes.OAuthPending, "approve:alice")
	if err := e.helper().Login(context.Background(), e.registry, "pull", false); err != nil {
		t.Fatalf("login: %v\n%s", err, e.stderr)
	}
	user, secret := e.mustGet(e.registry)
	toks := e.portus.Tokens("alice")
	if user != "alice" || len(toks) != 1 || toks[0].Plain != secret || toks[0].Scope != "pull" || toks[0].Name != tokenName || toks[0].CreatedVia != apitypes.ViaDevice {
		t.Fatalf("stored %s/%s; server tokens %+v", user, secret, toks)
	}
	req := e.portus.DeviceRequests()[0]
	if req.Get("client_id") != credhelper.Name || req.Get("scope") != "pull" || req.Get("name") != tokenName {
		t.Fatalf("device code request %v", req)
	}
	if polls := e.portus.DevicePolls(); len(polls) != 2 || polls[1].Sub(polls[0]) < time.Second {
		t.Fatalf("polls %v: want two, at least the interval (1 s) apart", polls)
	}
	out := e.stderr.String()
	for _, want := range []string{"/device", "BCDF-GHJK", "logged in to " + e.registry + " as alice", `added "credHelpers"`} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	e.noSecrets()

	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, want := decodeJSON(t, after), decodeJSON(t, []byte(dockerConfig))
	want["credHelpers"].(map[string]any)[e.registry] = "portus"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("config.json after login:\n%s\nwant the original plus credHelpers[%s]", after, e.registry)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("config.json mode %o, want 0640 kept", st.Mode().Perm())
	}

	// logout: revoked, removed, and the entry gone; the rest kept.
	if err := e.helper().Logout(e.registry); err != nil {
		t.Fatalf("logout: %v", err)
	}
	e.notFound(e.registry)
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatalf("logout left tokens on the server: %+v", toks)
	}
	after, _ = os.ReadFile(path)
	if got := decodeJSON(t, after); !reflect.DeepEqual(got, decodeJSON(t, []byte(dockerConfig))) {
		t.Fatalf("config.json after logout:\n%s\nwant the original", after)
	}
}

func TestLoginCreatesMissingDockerConfig(t *testing.T) {
	e := newEnv(t)
	path := withDockerConfig(t, "", 0)
	e.portus.DeviceAnswers("approve:alice")
	if err := e.helper().Login(context.Background(), e.registry, "", false); err != nil {
		t.Fatalf("login: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeJSON(t, data); !reflect.DeepEqual(got, map[string]any{"credHelpers": map[string]any{e.registry: "portus"}}) {
		t.Fatalf("new config.json: %s", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("new config.json mode %o, want 0600", st.Mode().Perm())
	}
}

func TestLoginEndsWithoutToken(t *testing.T) {
	for _, tc := range []struct {
		answer, want string
	}{
		{apitypes.OAuthAccessDenied, "the login was not approved: the fake says access_denied; no token was stored"},
		{apitypes.OAuthExpiredToken, "the code expired before it was approved; no token was stored"},
		{apitypes.OAuthInvalidGrant, "no token was stored"},
	} {
		t.Run(tc.answer, func(t *testing.T) {
			e := newEnv(t)
			path := withDockerConfig(t, dockerConfig, 0o600)
			e.portus.DeviceAnswers(tc.answer)
			err := e.helper().Login(context.Background(), e.registry, "", false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("login = %v, want %q", err, tc.want)
			}
			e.notFound(e.registry)
			if after, _ := os.ReadFile(path); string(after) != dockerConfig {
				t.Fatalf("config.json changed:\n%s", after)
			}
		})
	}
}

func TestLoginSlowDownWidensInterval(t *testing.T) {
	e := newEnv(t)
	withDockerConfig(t, "", 0)
	e.portus.DeviceAnswers(apitypes.OAuthSlowDown, "approve:alice")
	if err := e.helper().Login(context.Background(), e.registry, "", false); err != nil {
		t.Fatalf("login: %v", err)
	}
	polls := e.portus.DevicePolls()
	if len(polls) != 2 || polls[1].Sub(polls[0]) < 6*time.Second {
		t.Fatalf("polls %v: after slow_down the interval must grow by 5 s, to 6 s", polls)
	}
	if !strings.Contains(e.stderr.String(), "poll more slowly: now every 6s") {
		t.Fatalf("stderr does not say so:\n%s", e.stderr)
	}
}

func TestLoginCancelled(t *testing.T) {
	e := newEnv(t)
	path := withDockerConfig(t, dockerConfig, 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	err := e.helper().Login(ctx, e.registry, "", false)
	if err == nil || err.Error() != "login cancelled: no token was stored" {
		t.Fatalf("login = %v, want the cancellation", err)
	}
	e.notFound(e.registry)
	if after, _ := os.ReadFile(path); string(after) != dockerConfig {
		t.Fatalf("config.json changed:\n%s", after)
	}
}

func TestLoginCommandLine(t *testing.T) {
	e := newEnv(t)
	withDockerConfig(t, "", 0)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"login"}, 1, "usage: docker-credential-portus login REGISTRY"},
		{[]string{"login", "a", "b"}, 1, "usage: docker-credential-portus login REGISTRY"},
		{[]string{"login", "--bogus", "a"}, 1, "flag provided but not defined: -bogus"},
		{[]string{"login", "--scope", "admin", "a"}, 1, `--scope "admin": want pull, push or delete`},
		{[]string{"login", "--help"}, 0, "usage: docker-credential-portus login REGISTRY [--scope pull|push|delete] [--no-browser]"},
		{[]string{"logout"}, 1, "usage: docker-credential-portus logout REGISTRY"},
	} {
		e.stderr = &testutil.LockedBuffer{}
		if code := e.helper().Command(context.Background(), tc.args); code != tc.code || !strings.Contains(e.stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, e.stderr, tc.code, tc.want)
		}
	}
	// Flags after the registry work too.
	e.portus.DeviceAnswers("approve:bob")
	e.stderr = &testutil.LockedBuffer{}
	if code := e.helper().Command(context.Background(), []string{"login", e.registry, "--no-browser", "--scope=delete"}); code != 0 {
		t.Fatalf("login: exit %d\n%s", code, e.stderr)
	}
	if toks := e.portus.Tokens("bob"); len(toks) != 1 || toks[0].Scope != "delete" {
		t.Fatalf("bob's tokens %+v", toks)
	}
}

// TestLoginOpensBrowser: in a desktop session login hands the address
// with the code filled in to the system's opener (xdg-open on Linux, here
// a script that records its arguments); --no-browser and a session
// without a display do not.
func TestLoginOpensBrowser(t *testing.T) {
	record := fakeOpener(t)
	for _, tc := range []struct {
		display string
		browser bool
		opened  bool
	}{{":0", true, true}, {":0", false, false}, {"", true, false}} {
		os.Remove(record)
		t.Setenv("DISPLAY", tc.display)
		e := newEnv(t)
		withDockerConfig(t, "", 0)
		e.portus.DeviceAnswers("approve:alice")
		if err := e.helper().Login(context.Background(), e.registry, "", tc.browser); err != nil {
			t.Fatalf("login: %v", err)
		}
		got := opened(record, tc.opened)
		want := e.portus.URL() + "/device?user_code=BCDF-GHJK\n"
		if tc.opened && got != want || !tc.opened && len(got) != 0 {
			t.Errorf("DISPLAY=%q browser=%v: the opener got %q, want opened=%v (%q)", tc.display, tc.browser, got, tc.opened, want)
		}
	}
}
