package app

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/metrics"
	"github.com/portusproject/portus/server/store/boltstore"
)

// pepperLen is the size of the token pepper in bytes.
const pepperLen = 32

// lockTimeout is how long to wait for the bbolt file lock before reporting
// that another process has the data directory.
const lockTimeout = time.Second

// PrepareDataDir creates the data directory (0700) if needed and tightens
// its mode if it exists.
func PrepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("setting the mode of the data directory: %w", err)
	}
	return nil
}

// LoadPepper reads the token pepper, creating it with 32 random bytes (mode
// 0600) on first use. Losing it invalidates every application token.
func LoadPepper(path string) ([]byte, error) {
	pepper, err := os.ReadFile(path)
	if err == nil {
		if len(pepper) < pepperLen {
			return nil, fmt.Errorf("token pepper %s is shorter than %d bytes: restore it from a backup", path, pepperLen)
		}
		return pepper, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading token pepper: %w", err)
	}
	pepper = make([]byte, pepperLen)
	if _, err := rand.Read(pepper); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating token pepper: %w", err)
	}
	if _, err := f.Write(pepper); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing token pepper: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("writing token pepper: %w", err)
	}
	return pepper, f.Close()
}

// OpenStore opens the bbolt file of the data directory. If another process
// holds it, the error says so instead of waiting.
func OpenStore(c config.Config) (*boltstore.Store, error) {
	st, err := boltstore.Open(c.DBPath(), lockTimeout)
	if errors.Is(err, boltstore.ErrLocked) {
		return nil, fmt.Errorf("the data directory %s is in use by another portus process (its database is locked); stop that process or use another --data", c.Data)
	}
	return st, err
}

// Core is the state shared by the server and the offline admin commands.
type Core struct {
	Config   config.Config
	Store    *boltstore.Store
	Accounts *account.Service
	Metrics  *metrics.Metrics
}

// OpenCore prepares the data directory and opens the store and the account
// service on it.
func OpenCore(c config.Config, opts account.Options) (*Core, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := PrepareDataDir(c.Data); err != nil {
		return nil, err
	}
	pepper, err := LoadPepper(c.PepperPath())
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(c)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	opts.Pepper = pepper
	if opts.OnAuthFailure == nil {
		opts.OnAuthFailure = m.AuthFailed
	}
	if opts.MaxTokens == 0 {
		opts.MaxTokens = c.MaxTokens
	}
	if opts.AuditKeep == 0 {
		opts.AuditKeep = c.AuditKeep
	}
	accounts, err := account.New(st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Core{Config: c, Store: st, Accounts: accounts, Metrics: m}, nil
}

// Close flushes pending last-used times and closes the store.
func (c *Core) Close() error {
	ferr := c.Accounts.Flush()
	return errors.Join(ferr, c.Store.Close())
}
