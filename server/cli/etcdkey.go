package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/portusproject/portus/server/internal/atomicfile"
	"github.com/portusproject/portus/server/store/etcdstore"
)

// runEtcdSecretsKey writes a fresh key for --etcd-secrets-key-file, mode
// 0600, refusing to replace an existing file: a lost or changed key makes
// the pepper and signing key in etcd unreadable.
func runEtcdSecretsKey(env Env, args []string) error {
	fs := newFlags(env, "etcd-secrets-key", "FILE")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	path := fs.Arg(0)
	key, err := etcdstore.NewSecretsKey()
	if err != nil {
		return err
	}
	// Whole or not at all: a half-written key file would make the next
	// run refuse ("exists") with nothing usable in it.
	err = atomicfile.Create(path, key, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: the key of a running deployment must not change; remove the file first only if no etcd data depends on it", path)
	}
	if err != nil {
		return fmt.Errorf("writing the key file: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Wrote a new etcd secrets key to %s. Copy it (mode 0600) to every replica and admin host and set --etcd-secrets-key-file %s.\n", path, path)
	return nil
}
