// Package filelock owns the advisory lock files that let several helper
// processes (docker runs one per action, and parallel docker logins run
// several) take turns on a shared resource: the keyring's index item, or the
// test-only file keyring.
//
// Locks are flock(2) on Unix and LockFileEx on Windows: the operating system
// drops them when the process dies, so a crash never leaves a stale lock.
// Two Lock calls in one process exclude each other too, since each opens the
// file afresh. Elsewhere (Solaris, AIX, Plan 9, WebAssembly, where go-keyring
// has no keyring either) Lock fails with an error wrapping ErrUnsupported
// rather than pretend: a lock that excluded only this process would let two
// docker logins interleave unnoticed.
package filelock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

var (
	// ErrTimeout is wrapped by Lock when the lock stays taken for the whole timeout.
	ErrTimeout = errors.New("lock still held by another process")
	// ErrUnsupported is wrapped by Lock on systems without file locks.
	ErrUnsupported = errors.New("file locks are not supported on " + runtime.GOOS + "/" + runtime.GOARCH)
)

// pollInterval is how long Lock sleeps between attempts.
const pollInterval = 10 * time.Millisecond

// ops are a system's lock calls: try takes the lock on f without waiting
// and says whether it got it; unlock releases it. The zero value is a
// system without file locks.
type ops struct {
	try    func(f *os.File) (bool, error)
	unlock func(f *os.File) error
}

// Lock creates path (and its directory, mode 0700) if needed and takes an
// exclusive lock on it, retrying until timeout; a zero timeout tries once.
// It returns a function that releases the lock. The file itself is left in
// place: removing it would race with the next locker. On a system without
// file locks it creates nothing and returns an error wrapping ErrUnsupported.
func Lock(path string, timeout time.Duration) (unlock func(), err error) {
	return lockWith(system, path, timeout)
}

// lockWith is Lock with the lock calls of sys, so that tests on one system
// can run the path another system takes.
func lockWith(sys ops, path string, timeout time.Duration) (unlock func(), err error) {
	if sys.try == nil {
		return nil, fmt.Errorf("locking %s: %w", path, ErrUnsupported)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating lock directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		ok, err := sys.try(f)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if ok {
			return func() {
				_ = sys.unlock(f)
				_ = f.Close()
			}, nil
		}
		if !time.Now().Before(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w after %s", path, ErrTimeout, timeout)
		}
		time.Sleep(pollInterval)
	}
}
