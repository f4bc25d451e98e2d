package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/internal/atomicfile"
	"github.com/portusproject/portus/server/model"
)

// SecretFiles are the shared secrets of a bbolt installation: files named
// after the secrets (model.SecretNames) in the data directory Dir, mode
// 0600. A Store keeps its secrets there; a command that must read them
// while a server holds the database's lock (registry-config) uses
// SecretFiles directly. Its methods mean what model.Store's do.
type SecretFiles struct {
	Dir string
}

// replaceMu serialises ReplaceSharedSecret's read-compare-write.
var replaceMu sync.Mutex

// SharedSecret implements model.Store with a file named name beside the
// database.
func (s *Store) SharedSecret(name string, create func() ([]byte, error)) ([]byte, error) {
	if err := s.checkOpen(name); err != nil {
		return nil, err
	}
	return SecretFiles{Dir: s.dir}.SharedSecret(name, create)
}

// ReplaceSharedSecret implements model.Store.
func (s *Store) ReplaceSharedSecret(name string, old, next []byte) ([]byte, error) {
	if err := s.checkOpen(name); err != nil {
		return nil, err
	}
	return SecretFiles{Dir: s.dir}.ReplaceSharedSecret(name, old, next)
}

// checkOpen makes a closed database fail every method, these included.
func (s *Store) checkOpen(name string) error {
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return model.Unavailable("reading shared secret "+name, err)
	}
	return nil
}

// SharedSecret returns the secret called name, creating it from create if
// there is none. A new one appears whole or not at all, and a process that
// loses the race to create it reads the winner's.
func (f SecretFiles) SharedSecret(name string, create func() ([]byte, error)) ([]byte, error) {
	path, err := f.path(name)
	if err != nil {
		return nil, err
	}
	secret, err := readSecret(path)
	if !errors.Is(err, model.ErrNotFound) || create == nil {
		return secret, err
	}
	fresh, err := create()
	if err != nil {
		return nil, err
	}
	return createSecret(path, fresh)
}

// ReplaceSharedSecret stores next if the secret is still old (nil: absent)
// and returns the secret as stored afterwards. The file is replaced by a
// rename, so that readers see the old or the new secret, never a mix.
func (f SecretFiles) ReplaceSharedSecret(name string, old, next []byte) ([]byte, error) {
	path, err := f.path(name)
	if err != nil {
		return nil, err
	}
	// Compare and swap in one step: two rotations at once over the admin
	// socket must not both see old and both write. Every writer of a bbolt
	// installation's secrets is the serving process (admin commands reach
	// it over its socket), so a process-wide lock is enough.
	replaceMu.Lock()
	defer replaceMu.Unlock()
	cur, err := readSecret(path)
	switch {
	case errors.Is(err, model.ErrNotFound):
		if old != nil {
			return nil, err
		}
		return createSecret(path, next)
	case err != nil:
		return nil, err
	case old == nil || !bytes.Equal(cur, old):
		return cur, nil
	}
	if err := atomicfile.WriteFile(path, next, 0o600); err != nil {
		return nil, model.Unavailable("writing shared secret "+name, err)
	}
	return bytes.Clone(next), nil
}

// path checks that name is a known secret and returns its file.
func (f SecretFiles) path(name string) (string, error) {
	if !slices.Contains(model.SecretNames, name) {
		return "", fmt.Errorf("unknown shared secret %q", name)
	}
	if f.Dir == "" {
		return "", errors.New("shared secrets: no data directory given")
	}
	return filepath.Join(f.Dir, name), nil
}

// createSecret writes a new secret file, or returns the one another
// process wrote first.
func createSecret(path string, secret []byte) ([]byte, error) {
	err := atomicfile.Create(path, secret, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readSecret(path)
	}
	if err != nil {
		return nil, model.Unavailable("writing shared secret "+filepath.Base(path), err)
	}
	return secret, nil
}

// readSecret reads a secret file, making it private again if a restore
// from a backup left it readable by others.
func readSecret(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("shared secret %s: %w", filepath.Base(path), model.ErrNotFound)
	}
	if err != nil {
		return nil, model.Unavailable("reading shared secret "+filepath.Base(path), err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		_ = os.Chmod(path, 0o600)
	}
	return data, nil
}
