// Package keychain owns the helper's use of the operating system's keyring:
// the Secret Service over D-Bus on Linux (gnome-keyring, KeePassXC), the
// macOS Keychain, the Windows Credential Manager, all through go-keyring.
//
// It adds what go-keyring leaves to its callers:
//
//   - a timeout on every keyring call (DefaultTimeout): a locked keyring
//     waiting on an unlock prompt nobody can see, or a hung daemon, becomes an
//     error instead of a docker command that never returns;
//   - on Linux and the BSDs, a check for DBUS_SESSION_BUS_ADDRESS before any
//     call: without it go-keyring's D-Bus library would try to launch a
//     session bus of its own. The helper never starts daemons; it fails at
//     once with a message saying what is missing and how to provide it;
//   - errors that name their cause (ErrNoSessionBus, ErrNoSecretService,
//     ErrLocked, ErrTimeout, ErrTooLarge), never a bare exit status;
//   - an index, because go-keyring cannot enumerate items: Servers lists what
//     Put stored. Index updates are serialised across processes by a lock
//     file (see DefaultLockDir), so parallel docker logins lose nothing;
//   - a lock per server (LockServer), for callers whose read, network
//     exchange and write of one server's item must not interleave with
//     another process doing the same;
//   - the one check of a value's size (MaxValueLen): Put refuses larger
//     values with an error wrapping ErrTooLarge.
//
// # Items
//
// Each value lives under service Service ("docker-credential-portus") with
// the registry key (see package registryurl) as the user name. The index is
// a list of those keys, kept as JSON ({"servers": [...]}) under service
// IndexService ("docker-credential-portus/index") and user names "0", "1", …:
// one page per MaxValueLen bytes. Every value stays within MaxValueLen, under
// the 2560-byte limit of the Windows Credential Manager.
//
// The Keychain does not know what its values mean; package credhelper
// decides that.
package keychain

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

const (
	// Service is the keyring service name of the stored credentials.
	Service = "docker-credential-portus"
	// IndexService is the keyring service name of the index pages.
	IndexService = "docker-credential-portus/index"
	// MaxValueLen is the largest value, in bytes, the Keychain stores.
	MaxValueLen = 2500
	// DefaultTimeout bounds every keyring call when Options.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// lockFileName is the name of the index lock file in the lock directory.
	lockFileName = "keyring-index.lock"
	// serverLockPrefix starts the name of every per-server lock file.
	serverLockPrefix = "server-"
)

// Backend is a keyring as go-keyring presents one. Get and Delete report a
// missing item with an error for which errors.Is(err, keyring.ErrNotFound)
// (go-keyring's) holds. A Backend that also has a method Check() error gets
// it called before every Keychain operation.
type Backend interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// Options configures a Keychain. The zero value is the OS keyring with the
// default timeout and lock directory.
type Options struct {
	// Backend is the keyring; nil means OSKeyring{}.
	Backend Backend
	// Timeout bounds each keyring call and the wait for the index lock;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// LockDir holds the index lock file and the per-server lock files;
	// "" means DefaultLockDir().
	LockDir string
	// Log receives debug details (operations, durations; never values).
	// nil discards them.
	Log *slog.Logger
}

// Keychain stores values by registry key in a keyring, with an index.
// Its methods are safe for concurrent use, also by several processes.
type Keychain struct {
	backend Backend
	timeout time.Duration
	lockDir string
	log     *slog.Logger
}

// New returns a Keychain. It does no I/O: problems with the keyring show up
// in the first call.
func New(opts Options) *Keychain {
	k := &Keychain{
		backend: opts.Backend,
		timeout: opts.Timeout,
		lockDir: opts.LockDir,
		log:     opts.Log,
	}
	if k.backend == nil {
		k.backend = OSKeyring{}
	}
	if k.timeout <= 0 {
		k.timeout = DefaultTimeout
	}
	if k.lockDir == "" {
		k.lockDir = DefaultLockDir()
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	return k
}

// Get returns the value stored for server, or an error wrapping ErrNotFound.
func (k *Keychain) Get(server string) (string, error) {
	if err := k.check(); err != nil {
		return "", opError("reading the credentials of "+server, err)
	}
	var v string
	err := k.call("get", server, func() (err error) {
		v, err = k.backend.Get(Service, server)
		return err
	})
	if err != nil {
		return "", opError("reading the credentials of "+server, err)
	}
	return v, nil
}

// Put stores value for server, replacing any value stored before, and adds
// server to the index. A value longer than MaxValueLen is refused with an
// error wrapping ErrTooLarge.
func (k *Keychain) Put(server, value string) error {
	what := "storing the credentials of " + server
	if len(value) > MaxValueLen {
		return opError(what, &causeError{kind: ErrTooLarge,
			detail: fmt.Sprintf("%d bytes, more than the %d a keyring item may hold", len(value), MaxValueLen)})
	}
	if err := k.check(); err != nil {
		return opError(what, err)
	}
	return k.withIndexLock(what, func() error {
		if err := k.call("set", server, func() error { return k.backend.Set(Service, server, value) }); err != nil {
			return opError(what, err)
		}
		servers, pages, err := k.readIndex()
		if err != nil {
			return opError("updating the index after "+what, err)
		}
		if slices.Contains(servers, server) {
			return nil
		}
		servers = append(servers, server)
		slices.Sort(servers)
		if err := k.writeIndex(servers, pages); err != nil {
			return opError("updating the index after "+what, err)
		}
		return nil
	})
}

// Update rewrites the value stored for server: f gets the current value
// and returns the new one and whether to write it. It runs under the index
// lock, as Put and Remove do, so no Put, Remove or Update of another
// process comes between reading and writing. Nothing stored for server is
// not an error: f is not called. updated says whether a value was written.
func (k *Keychain) Update(server string, f func(value string) (string, bool)) (updated bool, err error) {
	what := "updating the credentials of " + server
	if err := k.check(); err != nil {
		return false, opError(what, err)
	}
	err = k.withIndexLock(what, func() error {
		var v string
		err := k.call("get", server, func() (err error) {
			v, err = k.backend.Get(Service, server)
			return err
		})
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return opError(what, err)
		}
		nv, ok := f(v)
		if !ok {
			return nil
		}
		if len(nv) > MaxValueLen {
			return opError(what, &causeError{kind: ErrTooLarge,
				detail: fmt.Sprintf("%d bytes, more than the %d a keyring item may hold", len(nv), MaxValueLen)})
		}
		if err := k.call("set", server, func() error { return k.backend.Set(Service, server, nv) }); err != nil {
			return opError(what, err)
		}
		updated = true
		return nil
	})
	return updated, err
}

// Remove deletes the value stored for server and drops server from the
// index. Removing what is not there is not an error: existed says whether
// there was a value.
func (k *Keychain) Remove(server string) (existed bool, err error) {
	what := "deleting the credentials of " + server
	if err := k.check(); err != nil {
		return false, opError(what, err)
	}
	err = k.withIndexLock(what, func() error {
		err := k.call("delete", server, func() error { return k.backend.Delete(Service, server) })
		switch {
		case err == nil:
			existed = true
		case errors.Is(err, ErrNotFound):
		default:
			return opError(what, err)
		}
		servers, pages, err := k.readIndex()
		if err != nil {
			return opError("updating the index after "+what, err)
		}
		i := slices.Index(servers, server)
		if i < 0 {
			return nil
		}
		if err := k.writeIndex(slices.Delete(servers, i, i+1), pages); err != nil {
			return opError("updating the index after "+what, err)
		}
		return nil
	})
	return existed, err
}

// check runs the backend's preflight check, if it has one.
func (k *Keychain) check() error {
	if c, ok := k.backend.(interface{ Check() error }); ok {
		return c.Check()
	}
	return nil
}

// call runs one keyring call with the timeout and classifies its error.
// A call that times out is abandoned: its goroutine ends with the process.
func (k *Keychain) call(op, item string, f func() error) error {
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(k.timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		k.log.Debug("keyring call", "op", op, "item", item, "duration", time.Since(start), "error", errString(err))
		return classify(err)
	case <-timer.C:
		k.log.Debug("keyring call timed out", "op", op, "item", item, "timeout", k.timeout)
		return timeoutError(k.timeout)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
