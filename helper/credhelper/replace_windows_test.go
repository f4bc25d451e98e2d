//go:build windows

package credhelper

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestReplaceWaitsForAnotherReader: while another handle has config.json
// open without FILE_SHARE_DELETE, as the docker CLI opens it, the rename
// is refused; it goes through once the handle is closed.
func TestReplaceWaitsForAnotherReader(t *testing.T) {
	path := configIn(t, `{"auths": {}}`, 0o600)
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateFile(name, windows.GENERIC_READ, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(configIn(t, "{}", 0o600), path); !systemRenameRetryable(err) {
		windows.CloseHandle(h)
		t.Fatalf("rename over an open config.json: %v; want access denied or a sharing violation", err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		windows.CloseHandle(h)
	}()
	if _, _, err := setCredHelper(path, "registry.example", "portus"); err != nil {
		t.Fatalf("setCredHelper while another handle is open for 300ms: %v", err)
	}
}

// TestReplaceReadOnly: a config.json with the read-only attribute is
// replaced and keeps it.
func TestReplaceReadOnly(t *testing.T) {
	path := configIn(t, `{"auths": {}}`, 0o444)
	if _, _, err := setCredHelper(path, "registry.example", "portus"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm()&0o200 != 0 {
		t.Fatalf("config.json after the edit: %v, %v; want it read-only still", st.Mode(), err)
	}
	if data, _ := os.ReadFile(path); !fields(t, data)["credHelpers"] {
		t.Fatalf("config.json after the edit: %s", data)
	}
}
