package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
)

// dockerd is the package's private Docker daemon (Debian's docker.io,
// dockerd 20.10): vfs storage, no networking, its own socket, so it needs
// no system service and touches no other daemon. It starts at the first
// startDockerd and stops when the package's tests end (TestMain). Images
// from the internet cannot be pulled here: build them FROM scratch
// (BuildScratch). Registries on 127.0.0.0/8 — localhost:PORT included —
// are spoken to over plain http: that range is dockerd's default insecure
// registry, and a name is matched by the address it resolves to.
//
// One daemon serves every test: the client state (config.json, the
// helper, the keyring) lives in each test's own DOCKER_CONFIG and HOME,
// and the daemon keeps only images, so tests tag theirs under their own
// registry's host:port.
type dockerd struct {
	Host           string // unix://DIR/sock, for DOCKER_HOST
	ContainerdSock string // the daemon's containerd, for ctr --address
	Dir            string // data, exec root, pid file and socket

	cli  string
	proc *testutil.Process
	log  *testutil.LockedBuffer
}

// dockerdStartTimeout bounds the daemon's start: it needs a second or
// two, more when the machine is busy.
const dockerdStartTimeout = 60 * time.Second

var daemon struct {
	once sync.Once
	d    *dockerd
	err  error
}

// startDockerd returns the package's daemon, starting it on first use. A
// missing dockerd or docker CLI, or no root, skips the test (fails it in
// CI), as requireTool does; a daemon that cannot start fails every test that
// needs it.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	exe := dockerdBinary(t)
	cli := requireTool(t, "docker")
	if os.Geteuid() != 0 {
		// dockerd needs root (rootless mode needs more than docker.io).
		if os.Getenv("CI") != "" {
			t.Fatal("the private dockerd needs root; CI runs the suite as root")
		}
		t.Skip("the private dockerd needs root")
	}
	daemon.once.Do(func() { daemon.d, daemon.err = launchDockerd(exe, cli) })
	if daemon.err != nil {
		t.Fatalf("starting the private dockerd: %v", daemon.err)
	}
	return daemon.d
}

// dockerdBinary finds dockerd, which Debian puts in /usr/sbin (not on
// every PATH).
func dockerdBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("dockerd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/dockerd"); err == nil {
		return "/usr/sbin/dockerd"
	}
	return requireTool(t, "dockerd")
}

func launchDockerd(exe, cli string) (*dockerd, error) {
	// Short and under /tmp whatever TMPDIR says: containerd's sockets live
	// below it, and a unix socket path has at most 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "portus-dockerd-")
	if err != nil {
		return nil, err
	}
	d := &dockerd{
		Host:           "unix://" + filepath.Join(dir, "sock"),
		ContainerdSock: filepath.Join(dir, "x", "containerd", "containerd.sock"),
		Dir:            dir,
		cli:            cli,
		log:            &testutil.LockedBuffer{},
	}
	cmd := exec.Command(exe,
		"--data-root", filepath.Join(dir, "root"),
		"--exec-root", filepath.Join(dir, "x"),
		"--pidfile", filepath.Join(dir, "pid"),
		"-H", d.Host,
		"--storage-driver", "vfs",
		"--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-masq=false")
	cmd.Env = withoutDockerVars(os.Environ())
	// A test binary that dies (a timeout's panic) skips TestMain's stop:
	// take the daemon with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	proc, err := testutil.Start(cmd, d.log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d.proc = proc
	err = proc.WaitReady(dockerdStartTimeout, func() bool {
		_, err := exec.Command(cli, "--host", d.Host, "version", "--format", "{{.Server.Version}}").Output()
		return err == nil
	})
	if err != nil {
		d.stop()
		return nil, fmt.Errorf("%w\n%s", err, d.log.Tail(40))
	}
	return d, nil
}

// stopDockerd stops the package's daemon if a test started it, and
// removes its directory. TestMain calls it after the tests.
func stopDockerd() {
	if daemon.d != nil {
		daemon.d.stop()
	}
}

func (d *dockerd) stop() {
	// SIGTERM lets dockerd stop its containerd too.
	if err := d.proc.Stop(30 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "dockerd:", err)
	}
	os.RemoveAll(d.Dir)
}

// Docker runs the docker CLI against the daemon with stdin and returns
// its combined output. env is the client's environment — its own HOME or
// DOCKER_CONFIG, and PATH with the helper when it uses one; DOCKER_HOST is
// set here (any DOCKER_HOST or DOCKER_CONTEXT in env is dropped).
func (d *dockerd) Docker(env []string, stdin string, args ...string) (string, error) {
	cmd := exec.Command(d.cli, args...)
	cmd.Env = append(withoutDockerVars(env), "DOCKER_HOST="+d.Host, "DOCKER_BUILDKIT=0")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustDocker is Docker that fails the test on a non-zero exit, showing
// the output with its tokens redacted.
func (d *dockerd) MustDocker(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	out, err := d.Docker(env, stdin, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, testutil.RedactTokens(out))
	}
	return out
}

// BuildScratch builds ref with the classic builder (DOCKER_BUILDKIT=0) as
// an image FROM scratch holding one file, /hello.txt, with content; a
// different content makes a different image.
func (d *dockerd) BuildScratch(t *testing.T, env []string, ref, content string) {
	t.Helper()
	ctx := t.TempDir()
	files := map[string]string{"Dockerfile": "FROM scratch\nCOPY hello.txt /\n", "hello.txt": content}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(ctx, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d.MustDocker(t, env, "", "build", "--quiet", "--tag", ref, ctx)
}

// dockerClientEnv is the environment of a docker client with no helper
// and its own fresh HOME and DOCKER_CONFIG, whose config.json holds
// configJSON; it returns the config directory too.
func dockerClientEnv(t *testing.T, configJSON string) (env []string, dockerConfig string) {
	t.Helper()
	home := t.TempDir()
	dockerConfig = filepath.Join(home, ".docker")
	if err := os.MkdirAll(dockerConfig, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(configJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(withoutSessionVars(os.Environ()), "HOME="+home, "DOCKER_CONFIG="+dockerConfig)
	return env, dockerConfig
}

// withoutDockerVars drops what would point a docker CLI or dockerd at
// another daemon or build mode.
func withoutDockerVars(env []string) []string {
	var out []string
	for _, kv := range env {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_BUILDKIT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// TestDockerdPushPull checks the harness: a bare daemon logs in to a
// registry on localhost:PORT over plain http, builds an image FROM
// scratch, pushes it, and pulls it back after removing it.
func TestDockerdPushPull(t *testing.T) {
	d := startDockerd(t)
	p := startPortus(t)
	reg := startRegistry(t, p)
	p.createUser(t, "alice", "alice-password", false)
	env, _ := dockerClientEnv(t, `{}`)

	ref := reg.Host + "/alice/harness:v1"
	out := d.MustDocker(t, env, "alice-password", "login", reg.Host, "-u", "alice", "--password-stdin")
	if !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login: %s", testutil.RedactTokens(out))
	}
	d.BuildScratch(t, env, ref, "built by the harness")
	d.MustDocker(t, env, "", "push", ref)
	d.MustDocker(t, env, "", "image", "rm", ref)
	d.MustDocker(t, env, "", "pull", ref)
	if out := d.MustDocker(t, env, "", "image", "inspect", "--format", "{{.Os}}", ref); strings.TrimSpace(out) == "" {
		t.Fatalf("the pulled image has no OS: %q", out)
	}
}
