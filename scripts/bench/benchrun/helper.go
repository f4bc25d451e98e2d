package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// runHelper times docker-credential-portus against the real gnome-keyring
// in a fresh session: its own HOME and XDG dirs, a D-Bus session bus, and
// gnome-keyring-daemon unlocked with a password — what
// `dbus-run-session -- sh -c 'echo -n pw | gnome-keyring-daemon --unlock
// --components=secrets; …'` sets up, with each daemon started here so that
// it can be stopped by its pid.
func (b *bench) runHelper(srv *server) error {
	helper := b.exe("docker-credential-portus")
	if !exists(helper) {
		b.helperStatus = "pending (`go build ./helper/cmd/docker-credential-portus` fails)"
		b.add(row{"6", "helper `get` / `store` with gnome-keyring", "—", "", "", "", b.helperStatus})
		return nil
	}
	tools := map[string]string{}
	for _, t := range []string{"dbus-daemon", "dbus-send", "gnome-keyring-daemon", "secret-tool"} {
		p, err := exec.LookPath(t)
		if err != nil {
			b.helperStatus = "skipped: " + t + " is not installed (scripts/install-deps installs it)"
			b.add(row{"6", "helper `get` / `store` with gnome-keyring", "—", "", "", "", b.helperStatus})
			return nil
		}
		tools[t] = p
	}
	home := filepath.Join(b.tmp, "home")
	rt := filepath.Join(home, "run")
	cfgHome := filepath.Join(home, ".config")
	for _, d := range []string{rt, filepath.Join(home, ".local", "share"), cfgHome} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	bus := "unix:path=" + filepath.Join(rt, "bus")
	env := []string{
		"HOME=" + home,
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_CONFIG_HOME=" + cfgHome,
		"XDG_RUNTIME_DIR=" + rt,
		"DBUS_SESSION_BUS_ADDRESS=" + bus,
		"PORTUS_HELPER_CONFIG=",
		"PORTUS_HELPER_DEBUG=",
	}
	full := append(os.Environ(), env...)

	dbus := exec.Command(tools["dbus-daemon"], "--session", "--nofork", "--nopidfile", "--address="+bus)
	dbus.Env = full
	if err := dbus.Start(); err != nil {
		return err
	}
	track(dbus)
	defer func() { dbus.Process.Kill(); dbus.Wait(); untrack(dbus) }()
	if err := waitUntil(10*time.Second, func() bool { return exists(filepath.Join(rt, "bus")) }); err != nil {
		return fmt.Errorf("the D-Bus session bus: %w", err)
	}
	kr := exec.Command(tools["gnome-keyring-daemon"], "--foreground", "--unlock", "--components=secrets")
	kr.Env = full
	kr.Stdin = strings.NewReader("bench-keyring-password")
	kr.Stdout, kr.Stderr = io.Discard, io.Discard
	if err := kr.Start(); err != nil {
		return err
	}
	track(kr)
	defer func() { kr.Process.Kill(); kr.Wait(); untrack(kr) }()
	err := waitUntil(10*time.Second, func() bool {
		out, err := run(env, "", tools["dbus-send"], "--session", "--print-reply", "--dest=org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets")
		return err == nil && strings.Contains(out, "boolean true")
	})
	if err != nil {
		return fmt.Errorf("gnome-keyring to own org.freedesktop.secrets: %w", err)
	}

	// The helper finds the Portus server of the registry in its
	// configuration file; the registry itself is never contacted.
	cfgDir := filepath.Join(cfgHome, "docker-credential-portus")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return err
	}
	cfg, _ := json.Marshal(map[string]any{"registries": map[string]any{helperReg: map[string]string{"portus": srv.URL}}})
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), cfg, 0o600); err != nil {
		return err
	}
	storeIn, _ := json.Marshal(map[string]string{"ServerURL": helperReg, "Username": "alice", "Secret": alicePassword})
	if _, err := run(env, string(storeIn), helper, "store"); err != nil {
		return err
	}
	getCheck := func(out string) error {
		if !strings.Contains(out, `"Secret":"ptk_`) {
			return fmt.Errorf("helper get printed %q, want an application token", redact(out))
		}
		return nil
	}
	n := b.t.helperN
	b.waitQuiet("the helper timings")
	trueT, err := timeRuns(n, env, "", nil, "/bin/true")
	if err != nil {
		return err
	}
	verT, err := timeRuns(n, env, "", nil, helper, "version")
	if err != nil {
		return err
	}
	stT, err := timeRuns(n, env, "", nil, tools["secret-tool"], "lookup", "service", "docker-credential-portus", "username", helperReg)
	if err != nil {
		return err
	}
	getT, err := timeRuns(n, env, helperReg+"\n", getCheck, helper, "get")
	if err != nil {
		return err
	}
	storeT, err := timeRuns(b.t.storeN, env, string(storeIn), nil, helper, "store")
	if err != nil {
		return err
	}
	var krRes keyringResult
	if err := runJSON(&krRes, env, b.self, "keyring", "-user", helperReg, "-n", "50"); err != nil {
		return err
	}
	b.helperGet = median(getT)
	add := func(what string, ts []time.Duration, notes string) {
		b.add(row{"6", what, "1", "", fmtDur(median(ts)), fmtDur(p99(ts)),
			fmt.Sprintf("median of %d runs (min %s, max %s)%s", len(ts), fmtDur(slices.Min(ts)), fmtDur(slices.Max(ts)), notes)})
	}
	add("helper `docker-credential-portus get` (real gnome-keyring)", getT, "")
	add("helper `store` with the password (exchange at Portus: argon2id, token create; keyring write + index)", storeT, "")
	add("process start: `/bin/true`", trueT, "")
	add("process start: `docker-credential-portus version`", verT, "")
	add("`secret-tool lookup` (process + D-Bus connect + Secret Service lookup)", stT, "")
	b.add(row{"6", "go-keyring `Get` inside one process", "1", "", fmtUs(krRes.WarmP50us), fmtUs(krRes.WarmP99us),
		fmt.Sprintf("first call (connects to the bus) %s; p50/p99 are the next %d calls on the open connection", fmtUs(krRes.ColdUs), krRes.N)})
	return nil
}

func p99(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*0.99+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func waitUntil(limit time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if ok() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", limit)
}

// redact keeps a token out of an error message.
func redact(s string) string {
	if i := strings.Index(s, "ptk_"); i >= 0 && len(s) > i+8 {
		return s[:i+8] + "…"
	}
	return s
}
