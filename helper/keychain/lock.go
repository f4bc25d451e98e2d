package keychain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/internal/filelock"
)

// DefaultLockDir is where the lock files (index and per-server) live by default:
// $XDG_RUNTIME_DIR/docker-credential-portus when XDG_RUNTIME_DIR is set,
// otherwise the helper's configuration directory (config.Dir).
func DefaultLockDir() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(dir) {
		return filepath.Join(dir, Service)
	}
	return config.Dir()
}

// LockServer takes the lock of server (a registry key) for this and every
// other process, waiting up to wait for it, and returns the function that
// releases it. On a system without file locks it fails at once with an
// error wrapping ErrUnsupported. The lock file lives in the lock directory beside the index
// lock; see ServerLockPath. The per-server lock and the index lock are
// independent: Put and Remove take the index lock while the caller holds a
// server lock, never the other way round, so they cannot deadlock.
func (k *Keychain) LockServer(server string, wait time.Duration) (unlock func(), err error) {
	unlock, err = filelock.Lock(k.ServerLockPath(server), wait)
	if errors.Is(err, filelock.ErrUnsupported) {
		return nil, opError("locking "+server, noLocks(err))
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: waiting for another docker-credential-portus working on %s: %w", server, err)
	}
	return unlock, nil
}

// ServerLockPath is the lock file of server in the lock directory:
// "server-" + the key with every character other than a letter, digit, '.'
// or '-' replaced by '_' (at most 64 of them) + "-" + the first 16 hex
// digits of the key's SHA-256 + ".lock", e.g.
// "server-localhost_5000-0123456789abcdef.lock". The hash keeps keys that
// differ only in replaced characters apart; the name is safe on every file
// system.
func (k *Keychain) ServerLockPath(server string) string {
	sum := sha256.Sum256([]byte(server))
	safe := []byte(server)
	for i, c := range safe {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-':
		default:
			safe[i] = '_'
		}
	}
	if len(safe) > 64 {
		safe = safe[:64]
	}
	return filepath.Join(k.lockDir, serverLockPrefix+string(safe)+"-"+hex.EncodeToString(sum[:8])+".lock")
}

// withIndexLock runs f holding the index lock file.
func (k *Keychain) withIndexLock(what string, f func() error) error {
	path := filepath.Join(k.lockDir, lockFileName)
	unlock, err := filelock.Lock(path, k.timeout)
	if err != nil {
		return opError(what, fmt.Errorf("taking the keyring index lock: %w", noLocks(err)))
	}
	defer unlock()
	return f()
}

// noLocks explains err when it says the system has no file locks (and
// returns any other err as it is). The helper then refuses to work rather
// than go on unlocked: docker runs a helper process per action, several at
// once for parallel logins, and without the locks those could lose each
// other's index entries or keep a token another login's exchange revoked.
// Such systems have no keyring go-keyring supports either.
func noLocks(err error) error {
	if !errors.Is(err, filelock.ErrUnsupported) {
		return err
	}
	return fmt.Errorf("%w: %w: docker-credential-portus needs them so that parallel docker logins and logouts take turns, "+
		"and stores, erases and lists nothing without them; use docker on Linux, macOS, Windows or a BSD", ErrUnsupported, err)
}
