package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/portusproject/portus/server/api"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/atomicfile"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/etcdstore"
)

// runBackup writes a consistent copy of the database to FILE, from the
// running server (over the admin socket) or, when none runs, from the file.
func runBackup(env Env, args []string) error {
	fs := newFlags(env, "backup", "FILE")
	c, rest, err := loadData(env, fs, args, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fs.Usage()
		return errUsage
	}
	dest := rest[0]
	client, err := connect(c, env.Stderr, false)
	if err != nil {
		return err
	}
	defer client.close()

	req, err := http.NewRequest(http.MethodGet, "http://portus/admin/backup", nil)
	if err != nil {
		return err
	}
	resp, err := client.http.Do(req)
	if err != nil {
		return fmt.Errorf("talking to the server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %s", resp.Status)
	}
	// FILE is either the old content or a whole new copy.
	var n int64
	err = atomicfile.Write(dest, 0o600, func(w io.Writer) error {
		var err error
		if n, err = io.Copy(w, resp.Body); err != nil {
			return err
		}
		if status := resp.Trailer.Get(api.BackupStatusTrailer); status != "ok" {
			return fmt.Errorf("the server could not finish the copy (%s)", orUnknown(status))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing the backup: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Wrote a consistent copy of the database (%d bytes) to %s.\n", n, dest)
	fmt.Fprint(env.Stderr, restoreHint(c, dest))
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "no completion status"
	}
	return s
}

// restoreHint says how the backup at dest is restored. What the server
// sent says which store it came from: an admin command that reaches a
// replica over its socket may know only --data, not --store.
func restoreHint(c config.Config, dest string) string {
	if isEtcdDump(dest) {
		return "It is a JSON-lines dump of the deployment's keys in etcd, without the pepper and the signing key:\n" +
			"portus cannot load it back. To keep a restorable copy, use `etcdctl snapshot save`, or copy the\n" +
			"whole deployment (pepper and signing key included) into a data directory with\n" +
			"`portus migrate --from etcd://HOST:PORT[,...] --to bbolt:DIR`.\n"
	}
	return fmt.Sprintf("To restore, put it as portus.db in a data directory together with a copy of %s\n"+
		"(without the pepper no application token works) and the registry-signing.* files.\n", filepath.Join(c.Data, model.SecretPepper))
}

// isEtcdDump reports whether the file at path starts with the header of
// etcdstore's backup format (a bbolt file starts with binary pages).
func isEtcdDump(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var header struct {
		Format string `json:"format"`
	}
	err = json.NewDecoder(io.LimitReader(f, 64<<10)).Decode(&header)
	return err == nil && header.Format == etcdstore.BackupFormat
}
