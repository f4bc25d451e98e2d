package filelock

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.lock")
	unlock, err := Lock(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Lock(path, 50*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("second Lock while held: err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("second Lock took %s, want about 50ms", d)
	}
	unlock()
	unlock2, err := Lock(path, 0)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

func TestLockSerialises(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	var (
		wg      sync.WaitGroup
		inside  int
		maxSeen int
		mu      sync.Mutex
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := Lock(path, 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			maxSeen = max(maxSeen, inside)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if maxSeen != 1 {
		t.Fatalf("%d holders at once, want 1", maxSeen)
	}
}

// TestLockUnsupported runs, on any system, the path Lock takes where the
// system has no file locks: an error wrapping ErrUnsupported at once, and
// nothing created.
func TestLockUnsupported(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	path := filepath.Join(dir, "x.lock")
	start := time.Now()
	unlock, err := lockWith(ops{}, path, 5*time.Second)
	if !errors.Is(err, ErrUnsupported) || unlock != nil {
		t.Fatalf("lockWith(no lock calls) = %v, %v; want nil and ErrUnsupported", unlock != nil, err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), runtime.GOOS) {
		t.Fatalf("error %q should name the file and the system", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("lockWith(no lock calls) took %s, want no wait", d)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock directory after an unsupported Lock: %v, want it not created", err)
	}
}
