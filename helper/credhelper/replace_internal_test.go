package credhelper

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// errBusy stands for Windows' sharing violation in these tests.
var errBusy = errors.New("the file is open in another process")

// withRename makes rename fail with fail's answer for try n (from 1)
// before renaming for real, and errBusy count as passing, until the test
// ends; it returns how many tries there were.
func withRename(t *testing.T, fail func(n int, from string) error) *int {
	t.Helper()
	n := 0
	oldRename, oldRetryable := rename, renameRetryable
	rename = func(from, to string) error {
		n++
		if err := fail(n, from); err != nil {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
		}
		return os.Rename(from, to)
	}
	renameRetryable = func(err error) bool { return errors.Is(err, errBusy) }
	t.Cleanup(func() { rename, renameRetryable = oldRename, oldRetryable })
	return &n
}

func configIn(t *testing.T, content string, mode fs.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReplaceRetriesWhileBusy: a rename refused because another process
// has config.json open is tried again until it goes through.
func TestReplaceRetriesWhileBusy(t *testing.T) {
	path := configIn(t, `{"auths": {}}`, 0o600)
	tries := withRename(t, func(n int, _ string) error {
		if n <= 3 {
			return errBusy
		}
		return nil
	})
	if _, changed, err := setCredHelper(path, "registry.example", "portus"); err != nil || !changed {
		t.Fatalf("setCredHelper while config.json is busy for 3 tries: changed %v, %v", changed, err)
	}
	if data, _ := os.ReadFile(path); *tries != 4 || !fields(t, data)["credHelpers"] {
		t.Fatalf("%d tries, config.json %s; want 4 and credHelpers set", *tries, data)
	}
}

// TestReplaceGivesUp: a file that stays busy fails after about
// renameRetryWait with the system's error; any other error fails at once.
func TestReplaceGivesUp(t *testing.T) {
	path := configIn(t, `{"auths": {}}`, 0o600)
	tries := withRename(t, func(int, string) error { return errBusy })
	start := time.Now()
	_, _, err := setCredHelper(path, "registry.example", "portus")
	if took := time.Since(start); !errors.Is(err, errBusy) || took < renameRetryWait || took > renameRetryWait+2*time.Second || *tries < 2 {
		t.Fatalf("always busy: %v after %s and %d tries; want the error after about %s", err, took, *tries, renameRetryWait)
	}
	if data, _ := os.ReadFile(path); string(data) != `{"auths": {}}` {
		t.Fatalf("config.json after a failed rename: %s", data)
	}
	other := errors.New("disk on fire")
	tries = withRename(t, func(int, string) error { return other })
	if _, _, err := setCredHelper(path, "registry.example", "portus"); !errors.Is(err, other) || *tries != 1 {
		t.Fatalf("another error: %v after %d tries; want it after 1", err, *tries)
	}
}

// TestReplaceRechecksBetweenTries: a docker login that rewrites the file
// while the rename waits is not lost: the edit starts over from it.
func TestReplaceRechecksBetweenTries(t *testing.T) {
	path := configIn(t, `{"auths": {}}`, 0o600)
	tries := withRename(t, func(n int, _ string) error {
		if n == 1 {
			if err := os.WriteFile(path, []byte(`{"auths": {"docker.example": {}}}`), 0o600); err != nil {
				t.Error(err)
			}
			return errBusy
		}
		return nil
	})
	if _, _, err := setCredHelper(path, "registry.example", "portus"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if got := fields(t, data); !got["credHelpers"] || !got["auths"] || *tries != 2 {
		t.Fatalf("config.json %s after %d tries; want both docker's auths and credHelpers after 2", data, *tries)
	}
}

// TestReplaceKeepsReadOnly: the temporary file is writable when it is
// renamed (Windows cannot rename a read-only one over the old file, nor
// replace it next time), and the result has the original's mode.
func TestReplaceKeepsReadOnly(t *testing.T) {
	path := configIn(t, `{"auths": {}}`, 0o444)
	var tmpMode fs.FileMode
	withRename(t, func(_ int, from string) error {
		if st, err := os.Stat(from); err == nil {
			tmpMode = st.Mode().Perm()
		}
		return nil
	})
	if _, _, err := setCredHelper(path, "registry.example", "portus"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o444 || tmpMode&0o200 == 0 {
		t.Fatalf("config.json mode %v (%v), the temporary file's %o at the rename; want 0444 kept and a writable temporary file", st.Mode(), err, tmpMode)
	}
}

// fields says which top-level fields data has.
func fields(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	got := map[string]bool{}
	for k := range m {
		got[k] = true
	}
	return got
}
