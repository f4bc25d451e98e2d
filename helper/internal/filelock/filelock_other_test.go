//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package filelock

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestLockFailsHere: on this system Lock itself refuses.
func TestLockFailsHere(t *testing.T) {
	if _, err := Lock(filepath.Join(t.TempDir(), "x.lock"), 0); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Lock = %v, want ErrUnsupported", err)
	}
}
