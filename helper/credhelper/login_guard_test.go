package credhelper_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/helper/credhelper"
	"github.com/portusproject/portus/helper/internal/filelock"
	"github.com/portusproject/portus/internal/testutil"
)

// fakeOpener puts an xdg-open first on PATH that appends its arguments to
// the file it returns, and sets up a desktop session for it.
func fakeOpener(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the opener is xdg-open on Linux only")
	}
	bin := t.TempDir()
	record := filepath.Join(bin, "opened")
	script := "#!/bin/sh\necho \"$@\" >> " + record + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DISPLAY", ":0")
	t.Setenv("WAYLAND_DISPLAY", "")
	return record
}

// opened is what the fake opener got, waiting a little for it when want
// is true (it runs in the background).
func opened(record string, want bool) string {
	var got []byte
	for range 50 {
		if got, _ = os.ReadFile(record); len(got) > 0 || !want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return string(got)
}

// TestLoginOpensOnlyPortusAddresses: the Portus server is whatever the
// registry's realm names, so a hostile one must not get the desktop to
// open a file, a Windows share's program or another site; the address is
// printed and nothing is opened. One on the server's own host and port is.
func TestLoginOpensOnlyPortusAddresses(t *testing.T) {
	record := fakeOpener(t)
	e := newEnv(t)
	u, err := url.Parse(e.portus.URL())
	if err != nil {
		t.Fatal(err)
	}
	otherPort := "http://" + u.Hostname() + ":1/device"
	for _, hostile := range []string{
		"file:///etc/passwd",
		`\\evil.example\share\x.exe`,
		"https://evil.example/device?user_code=BCDF-GHJK",
		otherPort,
		"ftp://" + u.Host + "/device",
		"http://alice@" + u.Host + "/device",
		"javascript:alert(1)",
		"/device",
	} {
		os.Remove(record)
		e.stderr = &testutil.LockedBuffer{}
		withDockerConfig(t, "", 0)
		e.portus.DeviceVerification(hostile, hostile, "")
		e.portus.DeviceAnswers("approve:alice")
		if err := e.helper().Login(context.Background(), e.registry, "", true); err != nil {
			t.Fatalf("login with %q: %v", hostile, err)
		}
		if got := opened(record, false); got != "" {
			t.Errorf("the server's %q made the helper open %q", hostile, got)
		}
		if out := e.stderr.String(); !strings.Contains(out, "not opening") || !strings.Contains(out, "open the address yourself") {
			t.Errorf("%q: stderr does not say it was not opened:\n%s", hostile, out)
		}
	}
	os.Remove(record)
	withDockerConfig(t, "", 0)
	own := e.portus.URL() + "/elsewhere/device?user_code=BCDF-GHJK"
	e.portus.DeviceVerification("", own, "")
	e.portus.DeviceAnswers("approve:alice")
	if err := e.helper().Login(context.Background(), e.registry, "", true); err != nil {
		t.Fatal(err)
	}
	if got := opened(record, true); got != own+"\n" {
		t.Errorf("the opener got %q, want the server's own %q", got, own)
	}
}

// TestLoginFallsBackToThePlainAddress: when only the address with the
// code filled in is refused, the plain one on the Portus server is opened
// instead, and stderr says why.
func TestLoginFallsBackToThePlainAddress(t *testing.T) {
	record := fakeOpener(t)
	e := newEnv(t)
	withDockerConfig(t, "", 0)
	own := e.portus.URL() + "/device"
	e.portus.DeviceVerification(own, "https://evil.example/device?user_code=BCDF-GHJK", "")
	e.portus.DeviceAnswers("approve:alice")
	if err := e.helper().Login(context.Background(), e.registry, "", true); err != nil {
		t.Fatal(err)
	}
	if got := opened(record, true); got != own+"\n" {
		t.Errorf("the opener got %q, want the plain address %q", got, own)
	}
	if out := e.stderr.String(); !strings.Contains(out, "not opening https://evil.example/device") || !strings.Contains(out, "opening "+own+" instead") {
		t.Errorf("stderr does not say which address was opened instead:\n%s", out)
	}
}

// TestLoginCleansWhatTheServerShows: terminal escapes and control
// characters in the address or code never reach stderr.
func TestLoginCleansWhatTheServerShows(t *testing.T) {
	e := newEnv(t)
	withDockerConfig(t, "", 0)
	page := e.portus.URL() + "/device"
	e.portus.DeviceVerification(page+"\x1b]8;;file:///etc/passwd\x07", page+"?user_code=\x1b[2J\x1b[1;1H", "BCDF\x1b[31m-GHJK\r\n\x9b2J")
	e.portus.DeviceAnswers("approve:alice")
	if err := e.helper().Login(context.Background(), e.registry, "", false); err != nil {
		t.Fatal(err)
	}
	out := e.stderr.String()
	if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 }); i >= 0 {
		t.Fatalf("stderr holds control character %q:\n%q", out[i], out)
	}
	if !strings.Contains(out, "BCDF [31m-GHJK") || !strings.Contains(out, page) {
		t.Fatalf("the cleaned address and code are not shown:\n%q", out)
	}
}

// TestLoginTokenHasItsAge: with rotate_after the token login just stored
// is not rotated by the next get, as one stored by store is not.
func TestLoginTokenHasItsAge(t *testing.T) {
	e := newEnv(t)
	e.config(map[string]any{"rotate_after": "1h"})
	withDockerConfig(t, "", 0)
	e.portus.DeviceAnswers("approve:alice")
	if err := e.helper().Login(context.Background(), e.registry, "", false); err != nil {
		t.Fatal(err)
	}
	_, secret := e.mustGet(e.registry)
	if toks := e.portus.Tokens("alice"); e.portus.Rotations() != 0 || len(toks) != 1 || toks[0].Plain != secret {
		t.Fatalf("get right after login rotated %d times; want the fresh token kept", e.portus.Rotations())
	}
}

// TestLoginNullDockerConfig: a config.json holding null is an empty one.
func TestLoginNullDockerConfig(t *testing.T) {
	e := newEnv(t)
	for _, content := range []string{"null", " null\n", `{"credHelpers": null, "auths": {}}`} {
		path := withDockerConfig(t, content, 0o600)
		e.portus.DeviceAnswers("approve:alice")
		if err := e.helper().Login(context.Background(), e.registry, "", false); err != nil {
			t.Fatalf("login with config.json %q: %v", content, err)
		}
		data, _ := os.ReadFile(path)
		if helpers, _ := decodeJSON(t, data)["credHelpers"].(map[string]any); helpers[e.registry] != "portus" {
			t.Fatalf("config.json %q after login: %s", content, data)
		}
	}
}

// TestLoginTakesTurnsOnDockerConfig: a login waits while another holds
// config.json's lock, and says so clearly when it is not released in time.
func TestLoginTakesTurnsOnDockerConfig(t *testing.T) {
	e := newEnv(t)
	path := withDockerConfig(t, `{"auths": {}}`, 0o600)
	unlock, err := filelock.Lock(path+".lock", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	e.portus.DeviceAnswers("approve:alice")
	go func() { done <- e.helper().Login(context.Background(), e.registry, "", false) }()
	time.Sleep(1500 * time.Millisecond) // the grant takes one 1 s poll
	if data, _ := os.ReadFile(path); string(data) != `{"auths": {}}` {
		unlock()
		t.Fatalf("config.json was rewritten while its lock was held: %s", data)
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("login after the lock was released: %v", err)
	}
	data, _ := os.ReadFile(path)
	if helpers, _ := decodeJSON(t, data)["credHelpers"].(map[string]any); helpers[e.registry] != "portus" {
		t.Fatalf("config.json after login: %s", data)
	}

	defer credhelper.SetConfigLockWait(100 * time.Millisecond)()
	unlock, err = filelock.Lock(path+".lock", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	err = e.helper().Logout(e.registry)
	if err == nil || !strings.Contains(err.Error(), "another docker-credential-portus login or logout is editing docker's configuration "+path) ||
		!strings.Contains(err.Error(), "wait for it to finish") {
		t.Fatalf("logout while config.json stays locked: %v; want the lock named and what to do", err)
	}
}

// TestDockerConfigChangedMeanwhile: when docker login (which takes no
// lock) rewrites config.json between the helper's read and its rename,
// the helper starts over and keeps what docker wrote.
func TestDockerConfigChangedMeanwhile(t *testing.T) {
	e := newEnv(t)
	path := withDockerConfig(t, `{"auths": {}}`, 0o640)
	writes := 0
	defer credhelper.SetBeforeReplace(func(p string) {
		if writes++; writes == 1 {
			if err := os.WriteFile(p, []byte(`{"auths": {"docker.example": {"auth": "eDp5"}}}`), 0o640); err != nil {
				t.Error(err)
			}
		}
	})()
	e.portus.DeviceAnswers("approve:alice")
	if err := e.helper().Login(context.Background(), e.registry, "", false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	got := decodeJSON(t, data)
	helpers, _ := got["credHelpers"].(map[string]any)
	auths, _ := got["auths"].(map[string]any)
	if helpers[e.registry] != "portus" || auths["docker.example"] == nil || writes != 2 {
		t.Fatalf("config.json after a concurrent write (%d attempts): %s; want both changes", writes, data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %o, want 0640 kept", st.Mode().Perm())
	}
}
