package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// SharedSecret implements model.Store with a file named name beside the
// database. A new one appears whole or not at all: it is written to a
// temporary file and linked into place, and a process that loses the race
// reads the winner's.
func (s *Store) SharedSecret(name string, create func() ([]byte, error)) ([]byte, error) {
	path, err := s.secretPath(name)
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
	tmp, err := writeTempSecret(path, fresh)
	if err != nil {
		return nil, model.Unavailable("writing shared secret "+name, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readSecret(path)
		}
		return nil, model.Unavailable("writing shared secret "+name, err)
	}
	return fresh, nil
}

// ReplaceSharedSecret implements model.Store. The file is replaced by a
// rename, so that readers see the old or the new secret, never a mix.
func (s *Store) ReplaceSharedSecret(name string, old, next []byte) ([]byte, error) {
	path, err := s.secretPath(name)
	if err != nil {
		return nil, err
	}
	cur, err := readSecret(path)
	switch {
	case errors.Is(err, model.ErrNotFound):
		if old != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case old == nil || !bytes.Equal(cur, old):
		return cur, nil
	}
	tmp, err := writeTempSecret(path, next)
	if err != nil {
		return nil, model.Unavailable("writing shared secret "+name, err)
	}
	defer os.Remove(tmp)
	if old == nil {
		err = os.Link(tmp, path)
		if errors.Is(err, fs.ErrExist) {
			return readSecret(path)
		}
	} else {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return nil, model.Unavailable("writing shared secret "+name, err)
	}
	return bytes.Clone(next), nil
}

// secretPath checks that the store is open and name is a known secret.
func (s *Store) secretPath(name string) (string, error) {
	if !slices.Contains(model.SecretNames, name) {
		return "", fmt.Errorf("unknown shared secret %q", name)
	}
	// A closed database fails every method, this one included.
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return "", model.Unavailable("reading shared secret "+name, err)
	}
	return filepath.Join(s.dir, name), nil
}

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

// writeTempSecret writes data to a new 0600 file beside path, synced to
// disk, and returns its name.
func writeTempSecret(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
