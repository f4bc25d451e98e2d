package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testetcd"
)

// TestBackupRestoreHint: portus backup tells how to restore what it wrote,
// and that depends on the store: a bbolt file is put back as portus.db, an
// etcd dump is not a database file at all. The hint follows what the
// server sent, also through a replica's socket given only --data.
func TestBackupRestoreHint(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		ok(t, "alice-password-1\n", "user", "create", "alice", "--password-stdin", "--data", data)
		dest := filepath.Join(t.TempDir(), "copy.db")
		r := ok(t, "", "backup", "--data", data, dest)
		if !strings.Contains(r.stderr, "put it as portus.db") || !strings.Contains(r.stderr, filepath.Join(data, "pepper")) {
			t.Errorf("bbolt backup said:\n%s", r.stderr)
		}
		if strings.Contains(r.stderr, "etcd") {
			t.Errorf("bbolt backup talks of etcd:\n%s", r.stderr)
		}
		if m := mode(t, dest); m != 0o600 {
			t.Errorf("backup has mode %o, want 600", m)
		}
	})

	cluster := testetcd.Start(t, 1)
	keyFile := filepath.Join(t.TempDir(), "etcd-secrets.key")
	ok(t, "", "etcd-secrets-key", keyFile)
	store := []string{"--store", cluster.Spec(), "--etcd-prefix", "/hint/", "--etcd-secrets-key-file", keyFile}
	etcdHint := func(t *testing.T, r result, dest string) {
		t.Helper()
		if strings.Contains(r.stderr, "portus.db") || !strings.Contains(r.stderr, "portus migrate --from etcd://") ||
			!strings.Contains(r.stderr, "etcdctl snapshot save") {
			t.Errorf("etcd backup said:\n%s", r.stderr)
		}
		dump, err := os.ReadFile(dest)
		if err != nil || !strings.HasPrefix(string(dump), `{"format":"portus-etcd-backup-1"`) {
			t.Errorf("etcd backup wrote %.60q (%v)", dump, err)
		}
	}
	t.Run("etcd offline", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		ok(t, "alice-password-1\n", append([]string{"user", "create", "alice", "--password-stdin", "--data", data}, store...)...)
		dest := filepath.Join(t.TempDir(), "dump")
		etcdHint(t, ok(t, "", append([]string{"backup", "--data", data, dest}, store...)...), dest)
	})
	t.Run("etcd replica socket", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "replica")
		s := serve(t, data, store...)
		dest := filepath.Join(t.TempDir(), "dump")
		etcdHint(t, ok(t, "", "backup", "--data", data, dest), dest)
		if code := s.stop(t); code != 0 {
			t.Errorf("portus serve exited %d after SIGTERM", code)
		}
	})
}
