package app

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/metrics"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/registryauth"
	"github.com/portusproject/portus/server/store/boltstore"
	"github.com/portusproject/portus/server/store/etcdstore"
	"github.com/portusproject/portus/server/webhook"
)

// pepperLen is the size of the token pepper in bytes.
const pepperLen = 32

// lockTimeout is how long to wait for the bbolt file lock before reporting
// that another process has the data directory.
const lockTimeout = time.Second

// PrepareDataDir creates the data directory (0700) if needed and tightens
// its mode if it exists. It refuses a directory, or a file Portus uses in
// it, that another user owns or that others may write: whoever can swap
// the pepper or the signing key can forge tokens, and whoever can replace
// the admin socket receives the passwords the admin commands send.
func PrepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	// Checked before the chmod, which root could apply to anyone's directory.
	if err := checkPrivate(dir, "the data directory"); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("setting the mode of the data directory: %w", err)
	}
	for _, path := range dataFiles(dir) {
		if err := checkPrivate(path, "the data directory's file"); err != nil {
			return err
		}
	}
	return nil
}

// dataFiles are the files of the data directory dir that Portus reads,
// trusts or listens on.
func dataFiles(dir string) []string {
	c := config.Config{Data: dir}
	files := []string{c.DBPath(), c.SocketPath(), filepath.Join(dir, RegistryBundleName)}
	for _, name := range model.SecretNames {
		files = append(files, filepath.Join(dir, name))
	}
	return files
}

// RegistryBundleName is the file in the data directory where
// registry-config writes the registry's certificate bundle by default.
const RegistryBundleName = "registry-rootcertbundle.pem"

// CheckAdminSocket refuses an admin socket, or a data directory holding
// it, that another user owns or that others may write, before an admin
// command sends anything over it: such a socket may be another user's
// listener waiting for a password. The running user is no exception for
// root. A socket or directory that does not exist passes (there is nothing
// to talk to).
func CheckAdminSocket(sock string) error {
	if err := checkPrivate(filepath.Dir(sock), "the data directory"); err != nil {
		return err
	}
	return checkPrivate(sock, "the admin socket")
}

// checkPrivate refuses path (what says what it is) when it exists and is
// owned by another user than the running one or writable by its group or
// by others. A symbolic link is checked and so is its target.
func checkPrivate(path, what string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s %s: %w", what, path, err)
	}
	if err := checkOwnerAndMode(path, what, fi); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return nil
	}
	target, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s %s: %w", what, path, err)
	}
	return checkOwnerAndMode(path+" (its link target)", what, target)
}

func checkOwnerAndMode(path, what string, fi fs.FileInfo) error {
	uid, known := fileOwner(fi)
	if !known {
		return nil
	}
	if me := os.Geteuid(); uid != me {
		return fmt.Errorf("%s %s (mode %04o) is owned by %s, not by %s who runs portus: its owner could replace the signing key, the pepper or the admin socket (and receive the passwords admin commands send); if its contents are yours, chown %s %s, otherwise move it away and give --data a directory of your own",
			what, path, fi.Mode().Perm(), describeUID(uid), describeUID(me), userName(me), path)
	}
	if fi.Mode()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s %s has mode %04o, writable by other users, who could replace what Portus keeps there; chmod go-w %s if its contents are yours",
			what, path, fi.Mode().Perm(), path)
	}
	return nil
}

// describeUID names a uid for a message: "nobody (uid 65534)".
func describeUID(uid int) string {
	if name := userName(uid); name != strconv.Itoa(uid) {
		return fmt.Sprintf("%s (uid %d)", name, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// userName is the login name of uid, or the number when it has none.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(uid)
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
	st, err := boltstore.OpenWith(c.DBPath(), boltstore.Options{LockTimeout: lockTimeout, Logger: log})
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
// It is loaded once; its Live signer follows a key rotation (signingkey.go).
func (c *Core) Issuer() (*registryauth.Issuer, error) {
	if c.issuer != nil {
		return c.issuer, nil
	}
	issuer, err := newIssuer(c.Config, c.Store)
	if err != nil {
		return nil, err
	}
	issuer.Live = registryauth.NewLiveSigner(issuer.Signer, c.Store, c.Config.SigningKey, nil)
	c.issuer = issuer
	return issuer, nil
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
	header, err := registryauth.ParseTokenHeader(c.RegistryTokenHeader)
	if err != nil {
		return nil, err
	}
	issuer, err := registryauth.NewIssuer(signer, c.Issuer, c.TokenTTL)
	if err == nil {
		issuer.Header = header
	}
	return issuer, err
}

// Core is the state shared by the server and the offline admin commands.
type Core struct {
	Config   config.Config
	Store    model.Store
	Accounts *account.Service
	Metrics  *metrics.Metrics
	// Webhooks delivers the queued events (nil: no hooks configured).
	Webhooks *webhook.Dispatcher

	issuer *registryauth.Issuer // loaded by Issuer
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
	if opts.FailureAuditKeep == 0 {
		opts.FailureAuditKeep = c.FailureAuditKeep
	}
	if opts.LoginTokens == (account.LoginTokenOptions{}) {
		opts.LoginTokens = account.LoginTokenOptions{Max: c.MaxLoginTokens, Idle: c.LoginTokenIdle, MaxAge: c.LoginTokenMaxAge}
	}
	if opts.TokenPolicy == (account.TokenPolicy{}) {
		e := c.TokenExpiry
		opts.TokenPolicy = account.TokenPolicy{MaxLifetime: e.MaxTokenLifetime, DefaultLifetime: e.DefaultTokenLifetime,
			Idle: e.TokenIdleExpiry, Keep: e.ExpiredTokenKeep}
	}
	if opts.Device == (account.DeviceOptions{}) {
		opts.Device = account.DeviceOptions{Expiry: c.DeviceCodeTTL}
	}
	if opts.RotationGrace == 0 {
		opts.RotationGrace = c.RotationGrace
	}
	hooks, err := openWebhooks(c, st, m, &opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	accounts, err := account.New(st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Core{Config: c, Store: st, Accounts: accounts, Metrics: m, Webhooks: hooks}, nil
}

// Close lets the leak worker finish the reports it took (their
// revocations must reach the store), flushes pending last-used times and
// closes the store. Call it after the HTTP servers stopped.
func (c *Core) Close() error {
	c.Accounts.StopLeakReports()
	ferr := c.Accounts.Flush()
	return errors.Join(ferr, c.Store.Close())
}
