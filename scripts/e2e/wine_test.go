package e2e

// The helper's Windows build, run under Wine against the Windows Credential
// Manager (Wine's advapi32 Cred* functions): the Windows code path of
// go-keyring, the file locks and the configuration directory, for real on
// every CI run. Debian's wine64 8.0 lacks bcryptprimitives.dll, which every
// Go 1.24+ Windows program needs at start; testdata/wine/processprng.c is the
// shim that provides it (see there).

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
)

const (
	// wineDir is where Debian's wine64 package puts its programs (not on
	// PATH: /usr/bin/wine comes from the wine package, which wants the
	// 32-bit half too).
	wineDir = "/usr/lib/wine"
	// mingwGCC is Debian's gcc-mingw-w64-x86-64 cross compiler.
	mingwGCC = "x86_64-w64-mingw32-gcc"
	// shimSource is the C source of bcryptprimitives.dll.
	shimSource = "testdata/wine/processprng.c"
	// wineTimeout bounds one program run under Wine; wineBootTimeout the
	// creation of the prefix.
	wineTimeout     = time.Minute
	wineBootTimeout = 5 * time.Minute
	// credentialManagerKey is where Wine keeps the Credential Manager's
	// items: one registry key per item, the secret encrypted.
	credentialManagerKey = `HKCU\Software\Wine\Credential Manager`
)

// wineHost is a Windows machine under Wine: one prefix for the whole test
// package (wineboot takes seconds to tens of seconds), with the shim DLL
// in its system32 and the helper's windows/amd64 build beside it.
type wineHost struct {
	wine   string // wine64
	server string // wineserver
	prefix string
	exe    string // the helper's .exe, a host path
	env    []string
	// BootTime is what creating the prefix (wineboot -i) took.
	BootTime time.Duration
}

var wineSetup struct {
	once sync.Once
	host *wineHost
	err  error
}

// newWineHost returns the package's Wine prefix, preparing it on the first
// call, with an empty Credential Manager and helper configuration
// directory, so that each test starts as on a fresh Windows account. The
// prefix's wineserver is stopped when the test ends. Without wine64 or the
// MinGW compiler the test skips on a workstation and fails in CI.
func newWineHost(t *testing.T) *wineHost {
	t.Helper()
	requireFile(t, filepath.Join(wineDir, "wine64"), "wine64")
	requireTool(t, mingwGCC)
	wineSetup.once.Do(func() {
		wineSetup.host, wineSetup.err = prepareWine()
		if wineSetup.err == nil {
			t.Logf("wineboot -i of the package's Wine prefix took %s", wineSetup.host.BootTime.Round(time.Millisecond))
		}
	})
	h := wineSetup.host
	if wineSetup.err != nil {
		t.Fatalf("preparing the Wine prefix: %v", wineSetup.err)
	}
	if err := h.startServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.stopServer(t) })
	// Deleting a key that is not there fails: only the empty list counts.
	h.run(wineTimeout, "", "reg", "delete", credentialManagerKey, "/f")
	if err := os.RemoveAll(h.appData()); err != nil {
		t.Fatal(err)
	}
	if out := h.mustHelper(t, "", "list"); strings.TrimSpace(out) != "{}" {
		t.Fatalf("a fresh Credential Manager lists %s", out)
	}
	return h
}

// requireFile is requireTool for a program that is not on PATH.
func requireFile(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (Debian package %s); scripts/install-deps installs it", path, pkg)
	}
	t.Skipf("%s is not installed (Debian package %s; run scripts/install-deps)", path, pkg)
}

// prepareWine creates the prefix under the package's binary directory
// (removed when the package's tests end), installs the shim DLL and builds
// the helper for windows/amd64.
func prepareWine() (*wineHost, error) {
	h := &wineHost{
		wine:   filepath.Join(wineDir, "wine64"),
		server: filepath.Join(wineDir, "wineserver"),
		prefix: filepath.Join(bin.dir, "wine"),
		exe:    filepath.Join(bin.dir, "docker-credential-portus.exe"),
	}
	h.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + bin.dir,
		"WINEPREFIX=" + h.prefix,
		// Wine's own messages (fixme:, err:) are not the helper's output.
		"WINEDEBUG=-all",
		// No Mono or Gecko installer: nothing may be downloaded, and a
		// console program needs neither.
		"WINEDLLOVERRIDES=mscoree,mshtml=",
	}
	// The build and the boot are independent: do both at once.
	built := make(chan error, 1)
	go func() { built <- buildWindowsHelper(h.exe) }()
	dll, err := buildShim()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	// wineserver needs the directory; wineboot fills it.
	if err := os.MkdirAll(h.prefix, 0o755); err != nil {
		return nil, err
	}
	if err := h.startServer(); err != nil {
		return nil, err
	}
	defer h.stopServer(nil)
	if _, errOut, code := h.run(wineBootTimeout, "", "wineboot", "-i"); code != 0 {
		return nil, fmt.Errorf("wineboot -i: exit %d\n%s", code, errOut)
	}
	h.BootTime = time.Since(start)
	system32 := filepath.Join(h.prefix, "drive_c", "windows", "system32")
	data, err := os.ReadFile(dll)
	if err == nil {
		err = os.WriteFile(filepath.Join(system32, "bcryptprimitives.dll"), data, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("installing the ProcessPrng shim: %w", err)
	}
	if err := <-built; err != nil {
		return nil, err
	}
	return h, nil
}

// wineReleaseVersion is the version the Windows helper under test is
// released as: the tests run the release's own .exe, built and packed by
// scripts/release, so that its `version` is checked under Wine too.
const wineReleaseVersion = "v0.0.0-wine"

// buildWindowsHelper makes the windows/amd64 release archive of the helper
// with scripts/release (no cgo, the Credential Manager backend) and
// unpacks its .exe to exe.
func buildWindowsHelper(exe string) error {
	out, err := os.MkdirTemp("", "portus-wine-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	cmd := exec.Command("../release", wineReleaseVersion, "--out", out, "--targets", "docker-credential-portus:windows/amd64")
	if log, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/release for windows/amd64: %w\n%s", err, log)
	}
	archives, err := filepath.Glob(filepath.Join(out, "docker-credential-portus_*_windows_amd64.zip"))
	if err != nil || len(archives) != 1 {
		return fmt.Errorf("scripts/release wrote %v, want one windows/amd64 zip", archives)
	}
	zr, err := zip.OpenReader(archives[0])
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, f := range zr.File {
		if filepath.Base(f.Name) != "docker-credential-portus.exe" {
			continue
		}
		src, err := f.Open()
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := os.OpenFile(exe, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(dst, src); err != nil {
			dst.Close()
			return err
		}
		return dst.Close()
	}
	return fmt.Errorf("%s holds no docker-credential-portus.exe", archives[0])
}

// buildShim compiles the ProcessPrng shim into the test cache, named by a
// hash of its source, and returns its path: the compiler runs once per
// change of the source, not once per test run.
func buildShim() (string, error) {
	src, err := os.ReadFile(shimSource)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(src)
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory for the shim DLL: %w", err)
	}
	dir := filepath.Join(cache, "portus-test", "wine")
	dll := filepath.Join(dir, "bcryptprimitives-"+hex.EncodeToString(sum[:8])+".dll")
	if _, err := os.Stat(dll); err == nil {
		return dll, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Built aside and renamed, so that a test killed halfway leaves no
	// half-written DLL under the final name.
	tmp := dll + fmt.Sprintf(".%d.tmp", os.Getpid())
	out, err := exec.Command(mingwGCC, "-shared", "-O2", "-s", "-o", tmp, shimSource, "-ladvapi32").CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("building the ProcessPrng shim with %s: %w\n%s", mingwGCC, err, out)
	}
	return dll, os.Rename(tmp, dll)
}

// run runs a Windows program (a host path or a name Wine finds in
// system32) under Wine, within timeout, and returns stdout, stderr and the
// exit code; a run that cannot start or times out reports code -1 and the
// reason on stderr. Its output goes through files, not pipes: the
// processes Wine starts beside a program (services.exe, winedevice.exe)
// inherit its standard streams and outlive it, and would hold a pipe open.
func (h *wineHost) run(timeout time.Duration, stdin, program string, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "wine-run-")
	if err != nil {
		return "", err.Error(), -1
	}
	defer os.RemoveAll(dir)
	var files [2]*os.File
	for i, name := range []string{"stdout", "stderr"} {
		if files[i], err = os.Create(filepath.Join(dir, name)); err != nil {
			return "", err.Error(), -1
		}
		defer files[i].Close()
	}
	cmd := exec.CommandContext(ctx, h.wine, append([]string{program}, args...)...)
	cmd.Env = h.env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	o, _ := os.ReadFile(files[0].Name())
	e, _ := os.ReadFile(files[1].Name())
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(o), string(e), 0
	case errors.As(err, &exit) && ctx.Err() == nil:
		return string(o), string(e), exit.ExitCode()
	default:
		return string(o), string(e) + fmt.Sprintf("\n[%s under wine: %v]", program, err), -1
	}
}

// helper runs an action of the helper's .exe with stdin.
func (h *wineHost) helper(stdin, action string) (stdout, stderr string, code int) {
	return h.run(wineTimeout, stdin, h.exe, action)
}

// mustHelper runs an action of the helper and fails the test when it
// exits non-zero. It returns stdout.
func (h *wineHost) mustHelper(t *testing.T, stdin, action string) string {
	t.Helper()
	out, errOut, code := h.helper(stdin, action)
	if code != 0 {
		t.Fatalf("docker-credential-portus.exe %s under Wine: exit %d\nstdout: %s\nstderr: %s",
			action, code, redactSecrets(out), redactSecrets(errOut))
	}
	return out
}

// credentialNames lists the target names of the Credential Manager's
// generic credentials, as Wine's reg.exe shows its keys (never the values:
// those hold the encrypted secrets).
func (h *wineHost) credentialNames(t *testing.T) []string {
	t.Helper()
	out, errOut, code := h.run(wineTimeout, "", "reg", "query", credentialManagerKey)
	if code != 0 {
		t.Fatalf("reg query %s: exit %d\n%s", credentialManagerKey, code, errOut)
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)\\Generic: (.+?)\r?$`).FindAllStringSubmatch(out, -1) {
		names = append(names, m[1])
	}
	return names
}

// appData is the host path of the helper's configuration directory in the
// prefix (%APPDATA%\docker-credential-portus), where its lock files live.
func (h *wineHost) appData() string {
	name := "root"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return filepath.Join(h.prefix, "drive_c", "users", name, "AppData", "Roaming", "docker-credential-portus")
}

// startServer starts the prefix's wineserver, detached from our pipes
// and kept until stopServer. Left to wine64, it would start one itself
// that holds the first program's stdout and stderr open for seconds after
// that program exits, and every run would wait for it.
func (h *wineHost) startServer() error {
	cmd := exec.Command(h.server, "--persistent")
	cmd.Env = h.env
	// Its messages go to a file: the daemon would hold a pipe open.
	log, err := os.CreateTemp("", "wineserver-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(log.Name())
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(log.Name())
		return fmt.Errorf("starting wineserver for %s: %w\n%s", h.prefix, err, out)
	}
	return nil
}

// stopServer ends the prefix's wineserver (and with it any Windows process
// left over), so that no test leaves one running. t may be nil.
func (h *wineHost) stopServer(t *testing.T) {
	cmd := exec.Command(h.server, "--kill")
	cmd.Env = h.env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	// Exit 1 without a word: there was no server to stop.
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1 && len(out) == 0) && t != nil {
		t.Logf("wineserver --kill: %v\n%s", err, out)
	}
	// Gone before the next test starts its own.
	wait := exec.Command(h.server, "--wait")
	wait.Env = h.env
	wait.Run()
}

// redactSecrets hides application tokens and the test's password in
// output that goes into a failure message.
func redactSecrets(s string) string {
	return testutil.RedactTokens(strings.ReplaceAll(s, "alice-password", "[password]"))
}
