package credhelper

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigLockErrors: only a lock that stays taken is "another login or
// logout"; a lock that cannot be taken at all says so, with what to do.
func TestConfigLockErrors(t *testing.T) {
	path := configIn(t, `{"auths": {}}`, 0o600)
	if err := os.Mkdir(path+".lock", 0o700); err != nil { // cannot be opened as a file
		t.Fatal(err)
	}
	_, _, err := setCredHelper(path, "registry.example", "portus")
	if err == nil || strings.Contains(err.Error(), "another") || !strings.Contains(err.Error(), "cannot lock docker's configuration "+path) ||
		!strings.Contains(err.Error(), "check that you may create and write "+path+".lock") {
		t.Fatalf("setCredHelper with an unusable lock file: %v; want that error named, not another login", err)
	}
}

// TestConfigThroughSymlink: a config.json that is a link is edited where
// it points, the link kept and the lock beside the target; a link to
// nothing is refused and left alone.
func TestConfigThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := configIn(t, `{"auths": {}}`, 0o600)
	link := filepath.Join(dir, "config.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := setCredHelper(link, "registry.example", "portus"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("config.json after the edit: %v, %v; want the link kept", st.Mode(), err)
	}
	if data, _ := os.ReadFile(target); !fields(t, data)["credHelpers"] {
		t.Fatalf("the link's target after the edit: %s", data)
	}
	if _, err := os.Stat(target + ".lock"); err != nil {
		t.Fatalf("no lock beside the target: %v", err)
	}

	missing := filepath.Join(dir, "gone", "config.json")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(missing, link); err != nil {
		t.Fatal(err)
	}
	_, _, err := setCredHelper(link, "registry.example", "portus")
	if err == nil || !strings.Contains(err.Error(), "is a symbolic link to "+missing) || !strings.Contains(err.Error(), "remove the link") {
		t.Fatalf("setCredHelper through a dangling link: %v; want it refused with what to do", err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the dangling link after the refusal: %v, %v; want it left alone", st.Mode(), err)
	}
}
