package app

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/metrics"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/registryauth"
	"github.com/portusproject/portus/server/store/boltstore"
	"github.com/portusproject/portus/server/store/etcdstore"
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

// OpenStore opens the store that c names (--store): the bbolt file of the
// data directory, or the etcd cluster. If another process holds the bbolt
// file, the error says so instead of waiting.
func OpenStore(c config.Config) (model.Store, error) {
	return openStore(c, slog.Default())
}

func openStore(c config.Config, log *slog.Logger) (model.Store, error) {
	if c.UsesEtcd() {
		o, err := etcdOptions(c, log)
		if err != nil {
			return nil, err
		}
		return etcdstore.Open(o)
	}
	st, err := boltstore.Open(c.DBPath(), lockTimeout)
	if errors.Is(err, boltstore.ErrLocked) {
		return nil, fmt.Errorf("the data directory %s is in use by another portus process (its database is locked); stop that process or use another --data", c.Data)
	}
	return st, err
}

// SharedPepper returns the token pepper of st, creating it with 32 random
// bytes on first use: with bbolt the data directory's pepper file (0600),
// with etcd a secret that the first replica creates for all. Losing it
// invalidates every application token.
func SharedPepper(st model.Store) ([]byte, error) {
	pepper, err := st.SharedSecret(model.SecretPepper, func() ([]byte, error) {
		p := make([]byte, pepperLen)
		_, err := rand.Read(p)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading token pepper: %w", err)
	}
	if len(pepper) < pepperLen {
		return nil, fmt.Errorf("the token pepper is shorter than %d bytes: restore it from a backup", pepperLen)
	}
	return pepper, nil
}

// Issuer loads (or on first use creates) the JWT signing key and its
// certificate from the store's shared secrets and returns the token
// issuer: with etcd every replica signs with the same key.
func (c *Core) Issuer() (*registryauth.Issuer, error) {
	return newIssuer(c.Config, c.Store)
}

// LoadIssuer loads (or on first use creates) the JWT signing key and its
// certificate, the store's shared secrets, and returns the token issuer,
// without a running server (a running one uses Core.Issuer). With bbolt it
// reads the secret files of the data directory, which needs no database
// lock, so it works beside a running server; with --store etcd://… it opens
// the cluster for the purpose.
func LoadIssuer(c config.Config) (*registryauth.Issuer, error) {
	if !c.UsesEtcd() {
		return newIssuer(c, boltstore.SecretFiles{Dir: c.Data})
	}
	st, err := OpenStore(c)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return newIssuer(c, st)
}

func newIssuer(c config.Config, keeper registryauth.SecretKeeper) (*registryauth.Issuer, error) {
	signer, err := registryauth.LoadOrCreateSigner(keeper, c.SigningAlg, c.SigningKey, time.Now)
	if err != nil {
		return nil, fmt.Errorf("loading the token signing key: %w", err)
	}
	issuer, err := registryauth.NewIssuer(signer, c.Issuer, c.TokenTTL)
	if err == nil {
		issuer.Header = registryauth.TokenHeader(c.RegistryTokenHeader)
	}
	return issuer, err
}

// Core is the state shared by the server and the offline admin commands.
type Core struct {
	Config   config.Config
	Store    model.Store
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
	if err := passwordOptions(c, &opts); err != nil {
		return nil, err
	}
	st, err := openStore(c, opts.Logger)
	if err != nil {
		return nil, err
	}
	pepper, err := SharedPepper(st)
	if err != nil {
		st.Close()
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
