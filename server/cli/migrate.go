package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/boltstore"
	"github.com/portusproject/portus/server/store/etcdstore"
)

// runMigrate copies a whole deployment between stores: users, tokens
// (their hashes, with the pepper that makes them checkable), the audit log
// and the shared secrets (pepper, signing key and certificate). Sessions
// are not copied: people sign in to the web UI again.
func runMigrate(env Env, args []string) error {
	var from, to string
	var force bool
	fs := newFlags(env, "migrate", "--from bbolt:PATH|etcd://HOST:PORT[,...] --to bbolt:PATH|etcd://HOST:PORT[,...] [--force] [--etcd-prefix P] [--etcd-ca F --etcd-cert F --etcd-key F] --etcd-secrets-key-file F [--etcd-username U --etcd-password-file F]")
	c, rest, err := config.Load(fs, func(fs *flag.FlagSet, c *config.Config) {
		fs.StringVar(&from, "from", "", "the store to copy: bbolt:PATH (a data directory or its portus.db) or etcd://HOST:PORT[,HOST:PORT...]")
		fs.StringVar(&to, "to", "", "the store to fill, same forms as --from; it must be empty")
		fs.BoolVar(&force, "force", false, "empty a destination that holds data first, and overwrite its shared secrets")
		fs.StringVar(&c.EtcdPrefix, "etcd-prefix", c.EtcdPrefix, "key `PREFIX` of the deployment in etcd")
		fs.StringVar(&c.EtcdCA, "etcd-ca", c.EtcdCA, "PEM `FILE` of the CA of etcd's certificates")
		fs.StringVar(&c.EtcdCert, "etcd-cert", c.EtcdCert, "PEM client certificate `FILE` for etcd")
		fs.StringVar(&c.EtcdKey, "etcd-key", c.EtcdKey, "PEM private key `FILE` of --etcd-cert")
		config.EtcdAccessFlags(fs, c)
	}, args, env.Getenv)
	if err != nil {
		return err
	}
	if len(rest) > 0 || from == "" || to == "" {
		fs.Usage()
		return errUsage
	}
	if from == to {
		return errors.New("--from and --to name the same store")
	}
	src, srcName, err := openMigrateStore(c, from, false, false)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	dst, dstName, err := openMigrateStore(c, to, true, force)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()

	if held, err := holdings(src, dst); err != nil {
		return err
	} else if held != "" {
		if !force {
			return fmt.Errorf("the destination %s is not empty (%s); stop its servers and add --force to replace its content", dstName, held)
		}
		if e, ok := dst.(*etcdstore.Store); ok {
			if err := e.DeleteAll(); err != nil {
				return err
			}
			fmt.Fprintf(env.Stderr, "Emptied %s (--force).\n", dstName)
		}
	}
	sum, err := copyStore(src, dst, env.Stderr)
	if err != nil {
		return fmt.Errorf("copying from %s to %s: %w (the destination is incomplete: run again with --force)", srcName, dstName, err)
	}
	fmt.Fprintf(env.Stderr, "Copied %d users, %d application tokens, %d audit entries and the shared secrets (%s) from %s to %s.\n",
		sum.users, sum.tokens, sum.activities, strings.Join(sum.secrets, ", "), srcName, dstName)
	fmt.Fprintln(env.Stderr, "Web sessions are not copied: people sign in again. Start the servers on the destination now (restart any that already ran on it).")
	return nil
}

// openMigrateStore opens bbolt:PATH or an etcd:// store. A bbolt source
// must exist; a bbolt destination is created, or with force replaced.
func openMigrateStore(c config.Config, spec string, dest, force bool) (model.Store, string, error) {
	if strings.HasPrefix(spec, config.StoreEtcdScheme) {
		c.Store = spec
		if err := c.Validate(); err != nil {
			return nil, "", err
		}
		st, err := app.OpenStore(c)
		if err != nil {
			return nil, "", err
		}
		return st, fmt.Sprintf("%s (prefix %s)", spec, c.EtcdPrefix), nil
	}
	path, ok := strings.CutPrefix(spec, "bbolt:")
	if !ok || path == "" {
		return nil, "", fmt.Errorf("%q: want bbolt:PATH or etcd://HOST:PORT[,HOST:PORT...]", spec)
	}
	db := path
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		db = filepath.Join(path, "portus.db")
	} else if errors.Is(err, os.ErrNotExist) && dest && !strings.HasSuffix(path, ".db") {
		db = filepath.Join(path, "portus.db")
	}
	if _, err := os.Stat(db); err != nil {
		if !dest {
			return nil, "", fmt.Errorf("no database at %s: %w", db, err)
		}
		if err := app.PrepareDataDir(filepath.Dir(db)); err != nil {
			return nil, "", err
		}
	} else if dest && force {
		if err := emptyBoltDest(db); err != nil {
			return nil, "", err
		}
	}
	st, err := boltstore.Open(db, time.Second)
	if errors.Is(err, boltstore.ErrLocked) {
		return nil, "", fmt.Errorf("%s is in use by a running portus serve: stop it first", db)
	}
	if err != nil {
		return nil, "", err
	}
	return st, "bbolt:" + db, nil
}

// emptyBoltDest moves an existing destination database and its shared
// secrets aside (as NAME.replaced-TIME), so that --force never destroys
// data outright.
func emptyBoltDest(db string) error {
	probe, err := boltstore.Open(db, time.Second)
	if errors.Is(err, boltstore.ErrLocked) {
		return fmt.Errorf("%s is in use by a running portus serve: stop it first", db)
	}
	if err != nil {
		return err
	}
	probe.Close()
	// The secrets beside it go with it: without its pepper the old
	// database's tokens could not be checked if it were put back.
	suffix := ".replaced-" + time.Now().UTC().Format("20060102T150405")
	for _, name := range model.SecretNames {
		p := filepath.Join(filepath.Dir(db), name)
		if err := os.Rename(p, p+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Rename(db, db+suffix)
}

// holdings says what the destination already holds that a copy would
// clash with: data, or shared secrets that differ from the source's.
func holdings(src, dst model.Store) (string, error) {
	var held []string
	users, err := dst.Users()
	if err != nil {
		return "", err
	}
	if len(users) > 0 {
		held = append(held, fmt.Sprintf("%d users", len(users)))
	}
	if n, err := dst.TokenCount(); err != nil {
		return "", err
	} else if n > 0 {
		held = append(held, fmt.Sprintf("%d tokens", n))
	}
	if acts, err := dst.Activities(model.ActivityQuery{Limit: 1}); err != nil {
		return "", err
	} else if len(acts) > 0 {
		held = append(held, "an audit log")
	}
	for _, name := range model.SecretNames {
		want, err := src.SharedSecret(name, nil)
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		have, err := dst.SharedSecret(name, nil)
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if !bytes.Equal(have, want) {
			held = append(held, "another "+name)
		}
	}
	return strings.Join(held, ", "), nil
}

type copySummary struct {
	users, tokens, activities int
	secrets                   []string
}

// copyStore writes everything of src into the empty dst: the shared
// secrets first (the tokens are useless without the pepper), then the
// users with their tokens, then the audit log, and checks the count.
func copyStore(src, dst model.Store, progress io.Writer) (copySummary, error) {
	var sum copySummary
	var err error
	if sum.secrets, err = copySecrets(src, dst); err != nil {
		return sum, err
	}
	if len(sum.secrets) == 0 || sum.secrets[0] != model.SecretPepper {
		fmt.Fprintln(progress, "Warning: the source has no token pepper: its application tokens cannot be checked anywhere.")
	}
	if err := copyUsers(src, dst, &sum); err != nil {
		return sum, err
	}
	if err := copyAuditLog(src, dst, &sum, progress); err != nil {
		return sum, err
	}
	if n, err := dst.TokenCount(); err != nil || n != sum.tokens {
		return sum, fmt.Errorf("the destination counts %d tokens after copying %d (%v)", n, sum.tokens, err)
	}
	return sum, nil
}

// copySecrets gives dst the shared secrets of src and returns the names
// of those src has, in model.SecretNames order.
func copySecrets(src, dst model.Store) ([]string, error) {
	var copied []string
	for _, name := range model.SecretNames {
		secret, err := src.SharedSecret(name, nil)
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		if err != nil {
			return copied, err
		}
		cur, err := dst.SharedSecret(name, nil)
		switch {
		case errors.Is(err, model.ErrNotFound):
			cur = nil
		case err != nil:
			return copied, err
		}
		if cur == nil || !bytes.Equal(cur, secret) {
			stored, err := dst.ReplaceSharedSecret(name, cur, secret)
			if err != nil {
				return copied, err
			}
			if !bytes.Equal(stored, secret) {
				return copied, fmt.Errorf("shared secret %s changed in the destination while copying", name)
			}
		}
		copied = append(copied, name)
	}
	return copied, nil
}

// copyUsers creates every user of src in dst, each with their tokens.
func copyUsers(src, dst model.Store, sum *copySummary) error {
	users, err := src.Users()
	if err != nil {
		return err
	}
	for _, u := range users {
		if _, err := dst.CreateUser(u, false); err != nil {
			return fmt.Errorf("user %s: %w", u.Name, err)
		}
		sum.users++
		tokens, err := src.Tokens(u.Name)
		if err != nil {
			return err
		}
		for _, t := range tokens {
			// No limit: the tokens were within it where they came from.
			if _, err := dst.CreateToken(model.NewToken{Token: t}); err != nil {
				return fmt.Errorf("token %s of %s: %w", t.ID, u.Name, err)
			}
			sum.tokens++
		}
	}
	return nil
}

// copyAuditLog adds the audit log of src to dst, oldest first, so that the
// new IDs keep the order.
func copyAuditLog(src, dst model.Store, sum *copySummary, progress io.Writer) error {
	var log []model.Activity
	q := model.ActivityQuery{Limit: 500}
	for {
		page, err := src.Activities(q)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		log = append(log, page...)
		q.Before = page[len(page)-1].ID
	}
	for i := len(log) - 1; i >= 0; i-- {
		a := log[i]
		a.ID = 0
		if err := dst.AddActivity(a, 0); err != nil {
			return fmt.Errorf("audit entry %d: %w", log[i].ID, err)
		}
		sum.activities++
		if sum.activities%10000 == 0 {
			fmt.Fprintf(progress, "… %d of %d audit entries\n", sum.activities, len(log))
		}
	}
	return nil
}
