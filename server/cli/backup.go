package cli

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"

	"github.com/portusproject/portus/server/api"
	"github.com/portusproject/portus/server/internal/atomicfile"
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
	fmt.Fprintf(env.Stderr, "To restore, put it as portus.db in a data directory together with a copy of %s\n(without the pepper no application token works) and the registry-signing.* files.\n", filepath.Join(c.Data, "pepper"))
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "no completion status"
	}
	return s
}
