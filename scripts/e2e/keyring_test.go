package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/internal/testutil"
)

// desktop is a fresh user session: its own HOME, a D-Bus session bus and an
// unlocked gnome-keyring serving the Secret Service, as on a workstation.
type desktop struct {
	home string
	env  []string // the environment every command of the session gets
}

// startDesktop starts dbus-daemon and gnome-keyring-daemon for one test.
// HOME and XDG_DATA_HOME are new before the keyring starts, so its login
// keyring is created with our password (an old one would stay locked).
func startDesktop(t *testing.T) *desktop {
	t.Helper()
	dbusDaemon := requireTool(t, "dbus-daemon")
	keyringDaemon := requireTool(t, "gnome-keyring-daemon")
	requireTool(t, "secret-tool")

	home := t.TempDir()
	runtime := filepath.Join(home, "run")
	for _, d := range []string{runtime, filepath.Join(home, ".local", "share"), filepath.Join(home, ".config")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	bus := "unix:path=" + filepath.Join(runtime, "bus")
	d := &desktop{home: home}
	d.env = append(withoutSessionVars(os.Environ()),
		"HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_RUNTIME_DIR="+runtime,
		"DBUS_SESSION_BUS_ADDRESS="+bus,
	)

	dbus := exec.Command(dbusDaemon, "--session", "--nofork", "--nopidfile", "--address="+bus)
	dbus.Env = d.env
	dbusProc, err := testutil.Start(dbus, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dbusProc.Kill)
	waitFor(t, dbusProc.Done(), func() bool { _, err := os.Stat(filepath.Join(runtime, "bus")); return err == nil }, "the D-Bus session bus")

	keyring := exec.Command(keyringDaemon, "--foreground", "--unlock", "--components=secrets")
	keyring.Env = d.env
	keyring.Stdin = strings.NewReader("keyring-password")
	stderr, _ := keyring.StderrPipe()
	keyringProc, err := testutil.Start(keyring, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() { // drain, so the daemon never blocks on a full pipe
		s := bufio.NewScanner(stderr)
		for s.Scan() {
		}
	}()
	t.Cleanup(keyringProc.Kill)
	// Ready when our daemon owns the Secret Service name. Asking the bus
	// (rather than calling the service) never activates a second daemon.
	dbusSend := requireTool(t, "dbus-send")
	waitFor(t, nil, func() bool {
		cmd := exec.Command(dbusSend, "--session", "--print-reply", "--dest=org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets")
		cmd.Env = d.env
		out, err := cmd.Output()
		return err == nil && strings.Contains(string(out), "boolean true")
	}, "gnome-keyring to own org.freedesktop.secrets")
	return d
}

// withoutSessionVars drops the caller's session settings so nothing of the
// machine's own desktop (if any) leaks into the test.
func withoutSessionVars(env []string) []string {
	var out []string
	for _, kv := range env {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "DOCKER_CONFIG":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// secrets returns everything the keyring holds for the helper's service,
// as secret-tool prints it (attributes and secrets).
func (d *desktop) secrets(t *testing.T) string {
	t.Helper()
	var all strings.Builder
	for _, service := range []string{"docker-credential-portus", "docker-credential-portus/index"} {
		cmd := exec.Command("secret-tool", "search", "--all", "--unlock", "service", service)
		cmd.Env = d.env
		out, err := cmd.CombinedOutput()
		if err != nil {
			// An empty answer from a failed search would pass every
			// "holds no secret" check.
			t.Fatalf("secret-tool search: %v\n%s", err, testutil.RedactTokens(string(out)))
		}
		all.Write(out)
	}
	return all.String()
}
