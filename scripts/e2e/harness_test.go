package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
)

// bin holds the binaries built once for the whole package.
var bin struct {
	dir    string
	portus string
	helper string
}

func TestMain(m *testing.M) {
	// Race-built binaries otherwise sleep a second at every exit; the
	// tests run hundreds of short commands.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	dir, err := os.MkdirTemp("", "portus-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.dir = dir
	bin.portus = filepath.Join(dir, "portus")
	bin.helper = filepath.Join(dir, "docker-credential-portus")
	args := []string{"build", "-o", dir + "/"}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "../../server/cmd/portus")
	if _, err := os.Stat("../../helper/cmd/docker-credential-portus/main.go"); err == nil {
		args = append(args, "../../helper/cmd/docker-credential-portus")
	}
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries under test:", err)
		os.Exit(1)
	}
	code := m.Run()
	stopDockerd()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool returns the path of an external tool. When it is missing the
// test skips on a workstation and fails in CI.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; scripts/install-deps installs it", name)
	}
	t.Skipf("%s is not installed (run scripts/install-deps)", name)
	return ""
}

// readyTimeout bounds how long a started server may take to answer.
const readyTimeout = 15 * time.Second

// portusServer is a running `portus serve`.
type portusServer struct {
	URL  string // http://localhost:PORT, the public URL
	Data string
	proc *testutil.Process
	log  *testutil.LockedBuffer
}

// startPortus runs `portus serve` on a fresh data directory and waits until
// it answers /healthz. Extra flags are appended.
func startPortus(t *testing.T, extra ...string) *portusServer {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	return startPortusOn(t, data, extra...)
}

func startPortusOn(t *testing.T, data string, extra ...string) *portusServer {
	t.Helper()
	// A port picked free can be taken before the server binds it: try
	// again with another when that happens.
	for attempt := 1; ; attempt++ {
		s, err := tryStartPortus(t, data, extra)
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(s.log.String(), "address already in use") {
			t.Fatalf("starting portus serve: %v\n%s", err, s.log.String())
		}
	}
}

func tryStartPortus(t *testing.T, data string, extra []string) (*portusServer, error) {
	t.Helper()
	port := testutil.Port(t)
	s := &portusServer{
		URL:  fmt.Sprintf("http://localhost:%d", port),
		Data: data,
		log:  &testutil.LockedBuffer{},
	}
	args := append([]string{"serve", "--data", data, "--listen", fmt.Sprintf("localhost:%d", port), "--url", s.URL}, extra...)
	proc, err := testutil.Start(exec.Command(bin.portus, args...), s.log)
	if err != nil {
		return s, err
	}
	s.proc = proc
	// Ready when our own process says so and answers: a /healthz alone
	// could come from whatever else took the port.
	serving := fmt.Sprintf("addr=127.0.0.1:%d", port)
	err = proc.WaitReady(readyTimeout, func() bool {
		return strings.Contains(s.log.String(), serving) && testutil.Answers(s.URL+"/healthz", http.StatusOK)
	})
	if err != nil {
		proc.Kill()
		return s, err
	}
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("portus serve log:\n%s", s.log.String())
		}
	})
	return s, nil
}

// Stop sends SIGTERM and waits for the process to exit; it fails the test
// when the server has to be killed after 20 s.
func (s *portusServer) Stop(t *testing.T) {
	if err := s.proc.Stop(20 * time.Second); err != nil {
		t.Errorf("portus serve: %v", err)
	}
}

// kill stops the server with SIGKILL, as a crash would.
func (s *portusServer) kill() { s.proc.Kill() }

// waitFor polls ready until it is true, and fails the test if the process
// ends (exited is closed; nil for none) or 15 s pass first.
func waitFor(t *testing.T, exited <-chan struct{}, ready func() bool, what string) {
	t.Helper()
	if err := testutil.WaitReady(exited, readyTimeout, ready); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// phase runs one step of a long end-to-end test as a subtest, so that a
// failure names its step. The steps build on each other, so the test keeps
// its flow: a step that stops (t.Fatal) ends the test, one that only
// reports errors lets the next steps run, and a skipped step skips the
// test. What a step starts for the later ones (servers, temporary
// directories) must be made with the outer t, whose cleanups run last.
func phase(t *testing.T, name string, step func(t *testing.T)) {
	t.Helper()
	var finished, skipped bool
	t.Run(name, func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		step(t)
		finished = true
	})
	switch {
	case skipped:
		t.SkipNow()
	case !finished:
		t.FailNow()
	}
}

// portus runs an admin command of the portus binary against s's data
// directory and returns its stdout. It fails the test on a non-zero exit.
func (s *portusServer) portus(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := s.try(stdin, args...)
	if err != nil {
		t.Fatalf("portus %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func (s *portusServer) try(stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(bin.portus, args...)
	// Through the environment, so that commands without --url accept it.
	cmd.Env = append(os.Environ(), "PORTUS_DATA="+s.Data, "PORTUS_URL="+s.URL)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// createUser creates a user with the admin CLI.
func (s *portusServer) createUser(t *testing.T, name, password string, admin bool) {
	t.Helper()
	args := []string{"user", "create", name, "--password-stdin"}
	if admin {
		args = append(args, "--admin")
	}
	s.portus(t, password+"\n", args...)
}

// createToken creates an application token with the admin CLI.
func (s *portusServer) createToken(t *testing.T, user, name, scope string) string {
	t.Helper()
	return strings.TrimSpace(s.portus(t, "", "token", "create", "--user", user, "--name", name, "--scope", scope))
}

// apiJSON calls the JSON API with HTTP Basic and decodes the answer into
// out (when not nil). It returns the status code.
func (s *portusServer) apiJSON(t *testing.T, method, path, user, secret string, body, out any) int {
	t.Helper()
	code, err := s.call(method, path, user, secret, body, out)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// call is apiJSON for goroutines: it reports errors instead of failing t.
func (s *portusServer) call(method, path, user, secret string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(user, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// registry is a running registry delegating to a Portus server.
type registry struct {
	Host string // localhost:PORT
	log  *testutil.LockedBuffer
	proc *testutil.Process
}

// startRegistry runs Debian's docker-registry (2.8.2) configured with the
// block that `portus registry-config` prints.
func startRegistry(t *testing.T, p *portusServer) *registry {
	t.Helper()
	return startRegistryAs(t, p, registrySetup{version: "2.8.2"})
}

// startRegistryIn is startRegistry with its configuration and storage in
// dir, so that a registry restarted there serves the same images.
func startRegistryIn(t *testing.T, p *portusServer, dir string) *registry {
	t.Helper()
	return startRegistryAs(t, p, registrySetup{version: "2.8.2", dir: dir})
}

// startRegistryAs runs the registry of setup configured with the block
// that `portus registry-config` prints for it.
func startRegistryAs(t *testing.T, p *portusServer, setup registrySetup) *registry {
	t.Helper()
	exe := registryBinary(t, setup.version)
	dir := setup.dir
	if dir == "" {
		dir = t.TempDir()
	}
	authBlock := p.portus(t, "", setup.registryConfigArgs(dir)...)
	if setup.jwks && strings.Contains(authBlock, "rootcertbundle") {
		t.Fatalf("the --jwks block names a rootcertbundle:\n%s", authBlock)
	}
	for attempt := 1; ; attempt++ {
		r, err := tryStartRegistry(t, exe, dir, authBlock)
		if err == nil {
			return r
		}
		if attempt == 3 || !strings.Contains(r.log.String(), "address already in use") {
			t.Fatalf("starting registry %s: %v\n%s", setup.version, err, r.log.String())
		}
	}
}

func tryStartRegistry(t *testing.T, exe, dir, authBlock string) (*registry, error) {
	t.Helper()
	port := testutil.Port(t)
	r := &registry{Host: fmt.Sprintf("localhost:%d", port), log: &testutil.LockedBuffer{}}
	// Registry 2.8 and 3.x read this configuration alike (see
	// registrySetup for where they differ).
	conf := fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "storage"), r.Host, authBlock)
	confPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	proc, err := testutil.Start(exec.Command(exe, "serve", confPath), r.log)
	if err != nil {
		return r, err
	}
	listening := fmt.Sprintf("listening on 127.0.0.1:%d", port)
	err = proc.WaitReady(readyTimeout, func() bool {
		return strings.Contains(r.log.String(), listening) && testutil.Answers("http://"+r.Host+"/v2/", http.StatusUnauthorized)
	})
	if err != nil {
		proc.Kill()
		return r, err
	}
	r.proc = proc
	t.Cleanup(func() {
		proc.Kill()
		if t.Failed() {
			t.Logf("registry log (%s):\n%s", exe, r.log.String())
		}
	})
	return r, nil
}

// craneClient runs crane with its own DOCKER_CONFIG.
type craneClient struct {
	exe    string
	config string
}

func newCrane(t *testing.T) *craneClient {
	t.Helper()
	return &craneClient{exe: requireTool(t, "crane"), config: t.TempDir()}
}

func (c *craneClient) run(args ...string) (string, error) {
	cmd := exec.Command(c.exe, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+c.config)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// login stores credentials for host in the client's config.json.
func (c *craneClient) login(t *testing.T, host, user, secret string) {
	t.Helper()
	cmd := exec.Command(c.exe, "auth", "login", host, "-u", user, "--password-stdin")
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+c.config)
	cmd.Stdin = strings.NewReader(secret)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("crane auth login: %v\n%s", err, out)
	}
}

// push uploads a one-layer image whose layer holds content.
func (c *craneClient) push(ref, content string) (string, error) {
	layer, err := layerTar(content)
	if err != nil {
		return "", err
	}
	defer os.Remove(layer)
	return c.run("append", "--new_layer", layer, "--new_tag", ref)
}

// layerTar writes a tar file with one small file and returns its path.
func layerTar(content string) (string, error) {
	f, err := os.CreateTemp("", "portus-layer-*.tar")
	if err != nil {
		return "", err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content))}); err != nil {
		return "", err
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		return "", err
	}
	return f.Name(), tw.Close()
}
