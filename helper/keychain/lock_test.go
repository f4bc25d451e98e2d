package keychain

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/portusproject/portus/helper/internal/filelock"
)

// TestNoLocks: on a system without file locks the lock error is one of
// the Keychain's causes and says what it means for docker; other lock
// errors pass through as they are.
func TestNoLocks(t *testing.T) {
	err := noLocks(fmt.Errorf("locking /run/x.lock: %w", filelock.ErrUnsupported))
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, filelock.ErrUnsupported) {
		t.Fatalf("noLocks(unsupported) = %v, want ErrUnsupported of both packages", err)
	}
	for _, want := range []string{"/run/x.lock", "parallel docker logins", "Linux, macOS, Windows"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("noLocks(unsupported) = %q, want it to mention %q", err, want)
		}
	}
	timeout := fmt.Errorf("locking /run/x.lock: %w", filelock.ErrTimeout)
	if got := noLocks(timeout); got != timeout {
		t.Fatalf("noLocks(timeout) = %v, want it unchanged", got)
	}
}
