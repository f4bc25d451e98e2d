package e2e

// Faults of the keyring under docker-credential-portus, for real: no
// session bus, a locked keyring, a Secret Service that hangs or is killed
// in the middle of an action; and two docker logins at once. Each ends
// within its timeout with a clear message on the right stream, the right
// exit status, and no secret printed.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// faultMargin is what a helper run may take beyond its timeout: starting
// the (possibly race-built) process and its few quick calls.
const faultMargin = 3 * time.Second

// runHelper runs docker-credential-portus ACTION with env and stdin,
// stdout and stderr apart.
func runHelper(t *testing.T, env []string, action, stdin string) testutil.Run {
	t.Helper()
	cmd := exec.Command(bin.helper, action)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := testutil.Run{Name: action, Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	return r
}

// helperConfig writes the helper's configuration file where it looks for
// it in the session (XDG_CONFIG_HOME) and returns its path.
func helperConfig(t *testing.T, d *desktop, keyringTimeout time.Duration, registries map[string]any) string {
	t.Helper()
	dir := filepath.Join(d.home, ".config", "docker-credential-portus")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"keyring_timeout": keyringTimeout.String(), "http_timeout": "5s", "registries": registries})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func storeJSON(server, user, secret string) string {
	b, _ := json.Marshal(map[string]string{"ServerURL": server, "Username": user, "Secret": secret})
	return string(b)
}

// sessionProcesses returns the processes whose environment has HOME=home:
// those of the test's session, and any daemon something in it started.
func sessionProcesses(home string) map[int]string {
	out := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), "HOME="+home) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		out[pid] = strings.TrimSpace(string(comm))
	}
	return out
}

// reapActivated kills, when the test ends, whatever the session bus
// started on demand (a Secret Service activated after the test's own was
// killed): it would outlive the bus.
func reapActivated(t *testing.T, d *desktop) {
	before := sessionProcesses(d.home)
	t.Cleanup(func() {
		for pid, comm := range sessionProcesses(d.home) {
			if _, ok := before[pid]; !ok && pid != os.Getpid() {
				t.Logf("stopping %s (pid %d), started on demand by the session bus", comm, pid)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

// secretServicePID asks the session bus which process owns the Secret
// Service name.
func secretServicePID(t *testing.T, d *desktop) int {
	t.Helper()
	cmd := exec.Command("dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
		"org.freedesktop.DBus.GetConnectionUnixProcessID", "string:org.freedesktop.secrets")
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("who owns org.freedesktop.secrets: %v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	pid, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		t.Fatalf("who owns org.freedesktop.secrets: %s", out)
	}
	return pid
}

// lockKeyring locks the login collection, as the screen locker or
// `secret-tool lock` would.
func lockKeyring(t *testing.T, d *desktop) {
	t.Helper()
	cmd := exec.Command(requireTool(t, "dbus-send"), "--session", "--print-reply", "--dest=org.freedesktop.secrets",
		"/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock",
		"array:objpath:/org/freedesktop/secrets/collection/login")
	cmd.Env = d.env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "collection/login") {
		t.Fatalf("locking the login keyring: %v\n%s", err, out)
	}
}

// TestHelperFaultNoSessionBus: without DBUS_SESSION_BUS_ADDRESS every
// action fails at once, says what is missing and how to provide it, starts
// no daemon, and docker login sends nothing to Portus.
func TestHelperFaultNoSessionBus(t *testing.T) {
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	w := newWorkstation(t, `{"credsStore": "portus"}`)
	const keyringTimeout = 5 * time.Second
	helperConfig(t, w.desktop, keyringTimeout, nil)
	var env []string
	for _, kv := range w.env {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			env = append(env, kv)
		}
	}
	before := sessionProcesses(w.home)
	// Fast: no waiting for a keyring call to time out.
	limit := keyringTimeout - time.Second
	want := []string{"DBUS_SESSION_BUS_ADDRESS is not set", "export DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(w.home, "run", "bus"),
		"dbus-run-session", "gnome-keyring-daemon --unlock", "never starts daemons"}

	for _, c := range []struct{ action, stdin string }{
		{"store", storeJSON(reg.Host, "alice", "alice-password")},
		{"get", reg.Host},
		{"list", ""},
		{"erase", reg.Host},
	} {
		r := runHelper(t, env, c.action, c.stdin)
		testutil.CheckRun(t, r, 1, "stdout", limit, []string{"alice-password"}, want...)
	}

	cmd := exec.Command(w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
	cmd.Env = env
	cmd.Stdin = strings.NewReader("alice-password")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("docker login without a session bus: %v after %s\n%s", err, time.Since(start).Round(time.Millisecond), out)
	if err == nil || !strings.Contains(string(out), "DBUS_SESSION_BUS_ADDRESS is not set") {
		t.Errorf("docker login without a session bus: %v\n%s", err, testutil.RedactTokens(string(out)))
	}
	testutil.NoSecret(t, "docker login", string(out), "alice-password")
	if n := len(helperTokens(t, p)); n != 0 {
		t.Errorf("docker login without a keyring made %d helper tokens", n)
	}
	if cfg := w.configJSON(t); testutil.Leaks(cfg, "alice-password", `"auth"`) {
		t.Errorf("config.json holds the password after the helper failed")
	}

	for pid, comm := range sessionProcesses(w.home) {
		if _, ok := before[pid]; !ok {
			t.Errorf("a process was started: %s (pid %d)", comm, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestHelperFaultLockedKeyring: the login keyring is locked after a login
// (a screen lock, or `secret-tool lock`). Nobody can answer the unlock
// prompt here: every action fails within keyring_timeout, says the keyring
// is locked and how to unlock it, and store asks Portus for nothing.
func TestHelperFaultLockedKeyring(t *testing.T) {
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	w := newWorkstation(t, `{"credsStore": "portus"}`)
	reapActivated(t, w.desktop)
	const keyringTimeout = 3 * time.Second
	helperConfig(t, w.desktop, keyringTimeout, nil)
	w.mustRun(t, "alice-password", w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
	token := helperTokenSecret(t, w, reg.Host)
	requests := len(helperTokens(t, p))

	lockKeyring(t, w.desktop)
	want := []string{"the keyring is locked", "/org/freedesktop/secrets/", "unlock it", "gnome-keyring-daemon --replace --unlock"}
	secrets := []string{"alice-password", token}
	for _, c := range []struct{ action, stdin string }{
		{"get", reg.Host},
		{"list", ""},
		{"store", storeJSON(reg.Host, "alice", "alice-password")},
		{"erase", reg.Host},
	} {
		r := runHelper(t, w.env, c.action, c.stdin)
		testutil.CheckRun(t, r, 1, "stdout", keyringTimeout+faultMargin, secrets, want...)
	}
	if n := len(helperTokens(t, p)); n != requests {
		t.Errorf("with the keyring locked, the server's helper tokens went from %d to %d", requests, n)
	}

	out, err := w.run("alice-password", w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
	if err == nil || !strings.Contains(out, "the keyring is locked") {
		t.Errorf("docker login with the keyring locked: %v\n%s", err, testutil.RedactTokens(out))
	}
	testutil.NoSecret(t, "docker login", out, secrets...)
}

// helperTokenSecret is what the helper's get returns for server.
func helperTokenSecret(t *testing.T, w *workstation, server string) string {
	t.Helper()
	out := w.mustRun(t, server, bin.helper, "get")
	var c struct{ Username, Secret string }
	if err := json.Unmarshal([]byte(out), &c); err != nil || !apptoken.Valid(c.Secret) {
		t.Fatalf("get %s: %s (%v)", server, testutil.RedactTokens(out), err)
	}
	return c.Secret
}

// stopOnCreate is a reverse proxy to Portus that, when a token has been
// created and before the helper sees the answer, runs hook: the moment
// between the exchange and the keyring write.
func stopOnCreate(t *testing.T, p *portusServer, hook func()) string {
	t.Helper()
	target, _ := url.Parse(p.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var once sync.Once
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPost && resp.Request.URL.Path == apitypes.TokensPath && resp.StatusCode == http.StatusCreated {
			once.Do(hook)
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

// TestHelperFaultSecretService: the Secret Service stops answering in the
// middle of docker login, after Portus made the token and before the
// keyring has it. Hung, the helper gives up after keyring_timeout; killed,
// at once. Either way the login fails with a clear message, the new token
// is revoked again (nothing valid is left behind), and nothing is printed
// that is secret. Killed between two actions, the next action fails just
// as clearly.
func TestHelperFaultSecretService(t *testing.T) {
	for _, mode := range []string{"hung", "killed"} {
		t.Run(mode, func(t *testing.T) {
			p := startPortus(t)
			reg := startRegistry(t, p)
			p.createUser(t, "alice", "alice-password", false)
			w := newWorkstation(t, `{"credsStore": "portus"}`)
			reapActivated(t, w.desktop)
			keyringTimeout := 2 * time.Second
			if mode == "killed" {
				keyringTimeout = 8 * time.Second // must not be what ends it
			}
			pid := secretServicePID(t, w.desktop)
			stopped := make(chan struct{})
			proxy := stopOnCreate(t, p, func() {
				syscall.Kill(pid, syscall.SIGSTOP)
				close(stopped)
			})
			helperConfig(t, w.desktop, keyringTimeout, map[string]any{reg.Host: map[string]any{"portus": proxy}})
			if mode == "killed" {
				go func() {
					<-stopped
					time.Sleep(500 * time.Millisecond) // the helper is waiting on the keyring by now
					syscall.Kill(pid, syscall.SIGKILL)
				}()
			}
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })

			r := runHelper(t, w.env, "store", storeJSON(reg.Host, "alice", "alice-password"))
			select {
			case <-stopped:
			default:
				t.Fatal("the helper made no token")
			}
			want := []string{"the login to " + reg.Host + " did not complete", "could not be stored in the keyring",
				"the new application token was revoked again", "run `docker login " + reg.Host + "` again"}
			limit := keyringTimeout + faultMargin
			if mode == "hung" {
				want = append(want, "the keyring did not answer in time", "no answer within "+keyringTimeout.String())
				if r.Elapsed < keyringTimeout {
					t.Errorf("store gave up after %s, before keyring_timeout", r.Elapsed)
				}
			} else {
				want = append(want, "no Secret Service", "stopped in the middle of the call", "start it again")
				limit = keyringTimeout - time.Second
			}
			testutil.CheckRun(t, r, 1, "stdout", limit, []string{"alice-password"}, want...)
			if n := len(helperTokens(t, p)); n != 0 {
				t.Errorf("after the failed login the server lists %d helper tokens, want 0", n)
			}

			if mode == "hung" {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			// Killed between actions. The session bus may start another
			// Secret Service on demand; its keyring is locked.
			r = runHelper(t, w.env, "get", reg.Host)
			testutil.CheckRun(t, r, 1, "stdout", keyringTimeout+faultMargin, []string{"alice-password"})
			if !strings.Contains(r.Stdout, "no Secret Service") && !strings.Contains(r.Stdout, "the keyring is locked") {
				t.Errorf("get after the Secret Service was killed: %q", r.Stdout)
			}
			r = runHelper(t, w.env, "list", "")
			if r.Code != 1 || r.Stdout == "{}\n" {
				t.Errorf("list after the Secret Service was killed: %v", r)
			}
		})
	}
}

// TestHelperConcurrentLoginsTwoRegistries: two docker logins at the same
// moment, to two registries of one Portus server. Both end up in list, and
// the token kept for each still works.
func TestHelperConcurrentLoginsTwoRegistries(t *testing.T) {
	p := startPortus(t)
	regs := []*registry{startRegistry(t, p), startRegistry(t, p)}
	p.createUser(t, "alice", "alice-password", false)
	w := newWorkstation(t, `{"credsStore": "portus"}`)
	helperConfig(t, w.desktop, 10*time.Second, nil)

	var wg sync.WaitGroup
	outs := make([]string, len(regs))
	errs := make([]error, len(regs))
	for i, reg := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = w.run("alice-password", w.docker, "login", reg.Host, "-u", "alice", "--password-stdin")
		}()
	}
	wg.Wait()
	for i := range regs {
		if errs[i] != nil || !strings.Contains(outs[i], "Login Succeeded") {
			t.Errorf("docker login %s: %v\n%s", regs[i].Host, errs[i], testutil.RedactTokens(outs[i]))
		}
		testutil.NoSecret(t, "docker login", outs[i], "alice-password")
	}

	r := runHelper(t, w.env, "list", "")
	var list map[string]string
	if err := json.Unmarshal([]byte(r.Stdout), &list); r.Code != 0 || err != nil {
		t.Fatalf("list: %v (%v)", r, err)
	}
	// docker login keeps an identity token (a login token) for each, under
	// its owner's name (see the helper's identityOwner).
	want := map[string]string{regs[0].Host: "alice", regs[1].Host: "alice"}
	if fmt.Sprint(list) != fmt.Sprint(want) {
		t.Fatalf("list = %v, want %v", list, want)
	}
	for _, reg := range regs {
		token := helperTokenSecret(t, w, reg.Host)
		if code := registryTokenStatus(t, p, "alice", token, "repository:alice/app:pull"); code != http.StatusOK {
			t.Errorf("the token kept for %s gets %d at /v2/token, want 200", reg.Host, code)
		}
	}
	if secrets := w.secrets(t); strings.Contains(secrets, "alice-password") {
		t.Error("the keyring holds the password")
	}
}
