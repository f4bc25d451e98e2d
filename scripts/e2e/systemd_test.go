package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest `systemd-analyze security` exposure the unit
// may have (0 is fully locked down, 10 is a service with no sandbox).
const maxExposure = 2.0

// TestSystemdUnit checks server/dist/portus.service as systemd reads it:
// verify finds no error, and its sandbox scores at most maxExposure. The
// unit's ExecStart names /usr/local/bin/portus, where the README installs
// it; verify checks that the binary exists, so the copy checked here
// names the binary under test instead.
func TestSystemdUnit(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze")
	unit, err := os.ReadFile("../../server/dist/portus.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/portus serve ") {
		t.Fatal("the unit's ExecStart no longer runs /usr/local/bin/portus serve; update this test")
	}
	path := filepath.Join(t.TempDir(), "portus.service")
	copied := strings.ReplaceAll(string(unit), "/usr/local/bin/portus", bin.portus)
	if err := os.WriteFile(path, []byte(copied), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// --offline: judge the file, not a unit loaded in a running systemd.
	out, err = exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	t.Logf("systemd-analyze security --offline=true portus.service:\n%s", out)
	m := regexp.MustCompile(`Overall exposure level for portus\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatal("systemd-analyze security printed no overall exposure level")
	}
	exposure, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil || exposure > maxExposure {
		t.Fatalf("exposure %s, want at most %.1f: a setting of the sandbox was loosened", m[1], maxExposure)
	}
}
