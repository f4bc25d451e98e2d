// Package filekeyring is a keyring kept in a JSON file, FOR TESTS ONLY.
//
// It stores secrets in plaintext. It exists so that tests can run the real
// docker-credential-portus binary (built with -tags portus_testkeyring, see
// that command's keyring_testonly.go) against a keyring that several helper
// processes share, as they share the OS keyring, without a D-Bus session.
// Release builds do not contain it.
//
// The file maps service → user → secret. Each call takes a lock file beside
// it, reads the file, and for changes writes a new file and renames it into
// place, so concurrent processes neither lose updates nor see half a file.
package filekeyring

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/portusproject/portus/helper/internal/filelock"
	"github.com/zalando/go-keyring"
)

// Keyring is a keyring.Keyring-like store in the file at Path.
type Keyring struct {
	Path string
}

type contents map[string]map[string]string

// Set stores secret for service and user.
func (k Keyring) Set(service, user, secret string) error {
	return k.update(func(c contents) error {
		if c[service] == nil {
			c[service] = map[string]string{}
		}
		c[service][user] = secret
		return nil
	})
}

// Get returns the secret of service and user, or keyring.ErrNotFound.
func (k Keyring) Get(service, user string) (string, error) {
	var secret string
	err := k.locked(func() error {
		c, err := k.read()
		if err != nil {
			return err
		}
		v, ok := c[service][user]
		if !ok {
			return keyring.ErrNotFound
		}
		secret = v
		return nil
	})
	return secret, err
}

// Delete removes the secret of service and user, or reports
// keyring.ErrNotFound.
func (k Keyring) Delete(service, user string) error {
	return k.update(func(c contents) error {
		if _, ok := c[service][user]; !ok {
			return keyring.ErrNotFound
		}
		delete(c[service], user)
		return nil
	})
}

func (k Keyring) update(f func(contents) error) error {
	return k.locked(func() error {
		c, err := k.read()
		if err != nil {
			return err
		}
		if err := f(c); err != nil {
			return err
		}
		return k.write(c)
	})
}

func (k Keyring) locked(f func() error) error {
	unlock, err := filelock.Lock(k.Path+".lock", 10*time.Second)
	if err != nil {
		return err
	}
	defer unlock()
	return f()
}

func (k Keyring) read() (contents, error) {
	c := contents{}
	data, err := os.ReadFile(k.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("test keyring %s: %w", k.Path, err)
	}
	return c, nil
}

func (k Keyring) write(c contents) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(k.Path), ".filekeyring-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), k.Path)
}
