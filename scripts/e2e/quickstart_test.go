package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
)

// quickstartFence opens the README's blocks that this test runs.
const quickstartFence = "```sh quickstart"

// readmeQuickStart returns the shell blocks of README.md marked
// quickstartFence, joined in order.
func readmeQuickStart(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var script []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case !in && strings.TrimSpace(line) == quickstartFence:
			in = true
		case in && strings.TrimSpace(line) == "```":
			in = false
		case in:
			script = append(script, line)
		}
	}
	if in {
		t.Fatalf("README.md: a %s block is not closed", quickstartFence)
	}
	if len(script) == 0 {
		t.Fatalf("README.md has no %s block: mark the quick start's commands with it", quickstartFence)
	}
	return strings.Join(script, "\n") + "\n"
}

// TestReadmeQuickStart runs the README's quick start as a newcomer would,
// in an empty directory: the real portus binary, Debian's docker-registry
// and the docker CLI against the package's private dockerd. Only what the
// README leaves to the reader is set: its own variables PORTUS_PORT,
// REGISTRY_PORT and ALICE_PASSWORD, the PATH, and where the docker CLI
// finds its daemon and its configuration.
func TestReadmeQuickStart(t *testing.T) {
	script := readmeQuickStart(t)
	d := startDockerd(t)
	requireTool(t, "curl")
	tools := t.TempDir()
	if err := os.Symlink(registryBinary(t, "2.8.2"), filepath.Join(tools, "docker-registry")); err != nil {
		t.Fatal(err)
	}
	dir, home := t.TempDir(), t.TempDir()
	const password = "quick-start-password-1"
	env := []string{
		"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"DOCKER_HOST=" + d.Host, "DOCKER_BUILDKIT=0",
		"PATH=" + bin.dir + ":" + tools + ":" + os.Getenv("PATH"),
		fmt.Sprintf("PORTUS_PORT=%d", testutil.Port(t)),
		fmt.Sprintf("REGISTRY_PORT=%d", testutil.Port(t)),
		"ALICE_PASSWORD=" + password,
	}
	for _, kv := range withoutSessionVars(withoutDockerVars(os.Environ())) {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "PORTUS_") && name != "PATH" {
			env = append(env, kv)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-eu", "-o", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	// Its own process group, so that the servers it starts in the
	// background stop with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		}
	})
	out, err := cmd.CombinedOutput()
	logs := func() string {
		var b strings.Builder
		for _, name := range []string{"portus.log", "registry.log"} {
			data, _ := os.ReadFile(filepath.Join(dir, name))
			fmt.Fprintf(&b, "--- %s:\n%s\n", name, testutil.RedactTokens(string(data)))
		}
		return b.String()
	}
	if err != nil {
		t.Fatalf("the README's quick start failed: %v\n%s\n%s", err, testutil.RedactTokens(string(out)), logs())
	}
	if !strings.Contains(string(out), "digest: sha256:") {
		t.Fatalf("the quick start ended without a pushed digest:\n%s\n%s", testutil.RedactTokens(string(out)), logs())
	}
	// What the README promises about docker login: a token, not the password.
	cfg, err := os.ReadFile(filepath.Join(home, ".docker", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), password) || !strings.Contains(string(cfg), `"identitytoken"`) {
		t.Errorf("after the quick start's docker login, config.json holds no identity token or the password:\n%s", testutil.RedactTokens(string(cfg)))
	}
}
