package main_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/shared/apptoken"
)

const (
	pkg      = "github.com/portusproject/portus/helper/cmd/docker-credential-portus"
	password = "alice's password"
)

// build compiles the helper into a fresh temporary directory.
func build(t *testing.T, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the helper with")
	}
	bin := filepath.Join(t.TempDir(), "docker-credential-portus")
	cmd := exec.Command(goBin, append(append([]string{"build", "-o", bin}, args...), pkg)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var (
	testBinOnce sync.Once
	testBin     string
	testBinErr  string
	testBinDir  string
)

// testBinary is the helper built with -tags portus_testkeyring, once per
// test run: it honours PORTUS_HELPER_KEYRING=file:PATH.
func testBinary(t *testing.T) string {
	t.Helper()
	testBinOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			testBinErr = "skip"
			return
		}
		testBinDir, err = os.MkdirTemp("", "portus-helper-test-")
		if err != nil {
			testBinErr = err.Error()
			return
		}
		testBin = filepath.Join(testBinDir, "docker-credential-portus")
		out, err := exec.Command(goBin, "build", "-tags", "portus_testkeyring", "-o", testBin, pkg).CombinedOutput()
		if err != nil {
			testBinErr = fmt.Sprintf("go build: %v\n%s", err, out)
		}
	})
	switch testBinErr {
	case "":
		return testBin
	case "skip":
		t.Skip("no go command to build the helper with")
	default:
		t.Fatal(testBinErr)
	}
	return ""
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testBinDir != "" {
		os.RemoveAll(testBinDir)
	}
	os.Exit(code)
}

// world is a test's environment for the helper processes.
type world struct {
	bin    string
	env    map[string]string
	portus *fakeportus.Server
}

func newWorld(t *testing.T) *world {
	dir := t.TempDir()
	s := fakeportus.New(t, fakeportus.Options{})
	s.AddUser("alice", password)
	return &world{
		bin:    testBinary(t),
		portus: s,
		env: map[string]string{
			"PORTUS_HELPER_KEYRING": "file:" + filepath.Join(dir, "keyring.json"),
			"PORTUS_HELPER_CONFIG":  filepath.Join(dir, "config.json"),
			"XDG_RUNTIME_DIR":       filepath.Join(dir, "run"),
			"PORTUS_HELPER_DEBUG":   "",
		},
	}
}

func (w *world) program() client.ProgramFunc {
	return client.NewShellProgramFuncWithEnv(w.bin, &w.env)
}

// run runs the helper directly, returning stdout, stderr and the exit code.
func (w *world) run(t *testing.T, action, stdin string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(w.bin, action)
	cmd.Env = os.Environ()
	for k, v := range w.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestStoreGetEraseListThroughClient(t *testing.T) {
	w := newWorld(t)
	p := w.program()
	reg := w.portus.RegistryHost()

	if got, err := client.List(p); err != nil || len(got) != 0 {
		t.Fatalf("empty list = %v, %v", got, err)
	}
	if err := client.Store(p, &credentials.Credentials{ServerURL: reg, Username: "alice", Secret: password}); err != nil {
		t.Fatal(err)
	}
	creds, err := client.Get(p, reg)
	if err != nil {
		t.Fatal(err)
	}
	toks := w.portus.Tokens("alice")
	if creds.Username != "alice" || !apptoken.Valid(creds.Secret) || len(toks) != 1 || toks[0].Plain != creds.Secret {
		t.Fatalf("get = %q, %s; server holds %d tokens", creds.Username, apptoken.Redact(creds.Secret), len(toks))
	}
	if got, err := client.List(p); err != nil || !maps.Equal(got, map[string]string{reg: "alice"}) {
		t.Fatalf("list = %v, %v", got, err)
	}

	// A bare docker login: get, then store what get returned. No new token.
	requests, _, _ := w.portus.Counts()
	if err := client.Store(p, creds); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := w.portus.Counts(); n != requests {
		t.Fatal("storing our own token again reached the server")
	}

	// docker logout: erase with four spellings.
	for _, s := range []string{reg, strings.ToUpper(reg), "http://" + reg, "https://" + reg} {
		if err := client.Erase(p, s); err != nil {
			t.Fatalf("erase %s: %v", s, err)
		}
	}
	if toks := w.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatal("erase did not revoke the token")
	}
	if _, err := client.Get(p, reg); !credentials.IsErrCredentialsNotFound(err) {
		t.Fatalf("get after erase: %v, want not found", err)
	}
	if got, err := client.List(p); err != nil || len(got) != 0 {
		t.Fatalf("list after erase = %v, %v", got, err)
	}
}

func TestErrorsReachDocker(t *testing.T) {
	w := newWorld(t)
	p := w.program()
	w.portus.SetLimit(1)
	w.portus.IssueToken("alice", "laptop")
	err := client.Store(p, &credentials.Credentials{ServerURL: w.portus.RegistryHost(), Username: "alice", Secret: password})
	if err == nil {
		t.Fatal("store at the token limit succeeded")
	}
	// The docker CLI shows the helper's stdout: the reason and how to fix it.
	for _, want := range []string{"as many application tokens", w.portus.URL() + "/profile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), password) {
		t.Fatal("the password reached the error")
	}
	if _, err := client.Get(p, w.portus.RegistryHost()); !credentials.IsErrCredentialsNotFound(err) {
		t.Fatalf("something was stored: %v", err)
	}
}

func TestEraseWithPortusDownThroughBinary(t *testing.T) {
	w := newWorld(t)
	reg := w.portus.RegistryHost()
	if err := client.Store(w.program(), &credentials.Credentials{ServerURL: reg, Username: "alice", Secret: password}); err != nil {
		t.Fatal(err)
	}
	token := w.portus.Tokens("alice")[0].Plain
	w.portus.Portus.Close()

	stdout, stderr, code := w.run(t, "erase", reg+"\n")
	if code != 0 || stdout != "" {
		t.Fatalf("erase: exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{"could not revoke", "docker-credential-portus@", apptoken.Redact(token), "remains valid", w.portus.URL() + "/profile"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if strings.Contains(stderr, token) {
		t.Fatal("stderr holds the token")
	}
	if _, err := client.Get(w.program(), reg); !credentials.IsErrCredentialsNotFound(err) {
		t.Fatalf("get after erase: %v", err)
	}
}

func TestConcurrentProcesses(t *testing.T) {
	w := newWorld(t)
	p := w.program()
	want := map[string]string{}
	var wg sync.WaitGroup
	for i := range 10 {
		server := fmt.Sprintf("registry-%d.example.com", i)
		want[server] = "<token>"
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := client.Store(p, &credentials.Credentials{ServerURL: server, Username: "<token>", Secret: "id-" + server}); err != nil {
				t.Error(err)
			}
		}()
	}
	reg := w.portus.RegistryHost()
	want[reg] = "alice"
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := client.Store(p, &credentials.Credentials{ServerURL: reg, Username: "alice", Secret: password}); err != nil {
			t.Error(err)
		}
	}()
	wg.Wait()
	got, err := client.List(p)
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("list = %v, %v; want %v", got, err, want)
	}
}

func TestVersion(t *testing.T) {
	w := newWorld(t)
	stdout, _, code := w.run(t, "version", "")
	// The first line is credentials.PrintVersion's, as other helpers print it.
	if first, _, _ := strings.Cut(stdout, "\n"); code != 0 || first != "docker-credential-portus (github.com/portusproject/portus) dev" {
		t.Fatalf("version: exit %d, %q", code, stdout)
	}
	const bi = "-X github.com/portusproject/portus/shared/buildinfo."
	bin := build(t, "-ldflags", "-X main.version=v1.2.3 "+bi+"Commit=0123abc "+bi+"Date=2024-05-06T07:08:09Z")
	out, err := exec.Command(bin, "version").Output()
	want := "docker-credential-portus (github.com/portusproject/portus) v1.2.3\n" +
		"commit 0123abc, built 2024-05-06T07:08:09Z, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if err != nil || string(out) != want {
		t.Fatalf("version with -ldflags: %q, %v; want %q", out, err, want)
	}
}

func TestReleaseBuild(t *testing.T) {
	// Without the test tag, PORTUS_HELPER_KEYRING means nothing: the OS
	// keyring is used, and without a session bus it fails fast and says why.
	bin := build(t)
	cmd := exec.Command(bin, "get")
	cmd.Env = []string{
		"HOME=" + t.TempDir(),
		"PATH=" + os.Getenv("PATH"),
		"PORTUS_HELPER_KEYRING=file:" + filepath.Join(t.TempDir(), "keyring.json"),
		"XDG_RUNTIME_DIR=" + t.TempDir(),
	}
	cmd.Stdin = strings.NewReader("registry.example.com\n")
	start := time.Now()
	out, err := cmd.Output()
	if time.Since(start) > 5*time.Second {
		t.Fatalf("get without a session bus took %s", time.Since(start))
	}
	if err == nil || !strings.Contains(string(out), "DBUS_SESSION_BUS_ADDRESS is not set") {
		t.Fatalf("get without a session bus: %v, stdout %q", err, out)
	}
}

func TestBadConfigGetStillWorks(t *testing.T) {
	w := newWorld(t)
	reg := w.portus.RegistryHost()
	if err := client.Store(w.program(), &credentials.Credentials{ServerURL: reg, Username: "alice", Secret: password}); err != nil {
		t.Fatal(err)
	}
	cfg := w.env["PORTUS_HELPER_CONFIG"]
	if err := os.WriteFile(cfg, []byte(`{"strict": true,}`), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := w.run(t, "get", reg+"\n")
	if code != 0 || !strings.Contains(stdout, `"Username":"alice"`) {
		t.Fatalf("get with a typo in the configuration: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "warning") || !strings.Contains(stderr, cfg) {
		t.Fatalf("get with a typo in the configuration: stderr %q, want a warning naming %s", stderr, cfg)
	}
	stdout, _, code = w.run(t, "list", "")
	if code != 0 || !strings.Contains(stdout, reg) {
		t.Fatalf("list with a typo in the configuration: exit %d, stdout %q", code, stdout)
	}
	// docker login fails and says which file is wrong.
	err := client.Store(w.program(), &credentials.Credentials{ServerURL: reg, Username: "alice", Secret: password})
	if err == nil || !strings.Contains(err.Error(), cfg) {
		t.Fatalf("store with a typo in the configuration: %v", err)
	}
}

// TestConcurrentProcessesSameServer: two docker logins to one registry at
// once, as two helper processes. The first one's token is created but its
// answer held back until the second login has finished (or until it is
// clear that the second waits for the first): the keyring must end with the
// token the server still accepts.
func TestConcurrentProcessesSameServer(t *testing.T) {
	w := newWorld(t)
	p := w.program()
	reg := w.portus.RegistryHost()
	firstCreated := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseFirst := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseFirst)
	w.portus.OnCreate(func(n int, _ fakeportus.Token) {
		if n == 1 {
			close(firstCreated)
			<-release
		}
	})
	login := func() chan error {
		ch := make(chan error, 1)
		go func() {
			ch <- client.Store(p, &credentials.Credentials{ServerURL: reg, Username: "alice", Secret: password})
		}()
		return ch
	}
	first := login()
	select {
	case <-firstCreated:
	case err := <-first:
		t.Fatalf("first login ended before creating a token: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("first login created no token")
	}
	second := login()
	select {
	case err := <-second:
		second <- err
	case <-time.After(time.Second):
	}
	releaseFirst()
	for _, ch := range []chan error{first, second} {
		if err := <-ch; err != nil {
			t.Error(err)
		}
	}
	creds, err := client.Get(p, reg)
	if err != nil {
		t.Fatal(err)
	}
	toks := w.portus.Tokens("alice")
	if len(toks) != 1 || toks[0].Plain != creds.Secret {
		t.Fatalf("the keyring holds %s, the server %d live tokens: want the keyring to hold the live one",
			apptoken.Redact(creds.Secret), len(toks))
	}
}
