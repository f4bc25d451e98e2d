package app

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/store/etcdstore"
)

func TestEtcdInClear(t *testing.T) {
	for _, tc := range []struct {
		tls       bool
		endpoints []string
		want      bool
	}{
		{false, []string{"127.0.0.1:2379"}, false},
		{false, []string{"localhost:2379", "[::1]:2379", "127.0.0.2:2379"}, false},
		{false, []string{"127.0.0.1:2379", "10.0.0.2:2379"}, true},
		{false, []string{"etcd.example.com:2379"}, true},
		{false, []string{"localhost.example.com:2379"}, true},
		{true, []string{"10.0.0.1:2379"}, false},
	} {
		if got := etcdInClear(tc.tls, tc.endpoints); got != tc.want {
			t.Errorf("etcdInClear(%v, %v) = %v, want %v", tc.tls, tc.endpoints, got, tc.want)
		}
	}
}

// writeKeyFile writes a new secrets key file (0600) and returns its path.
func writeKeyFile(t *testing.T, name string) string {
	t.Helper()
	key, err := etcdstore.NewSecretsKey()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEtcdOptions: the warning for etcd in clear names the TLS flags and
// appears once, only off loopback; the password comes from its file.
func TestEtcdOptions(t *testing.T) {
	c := config.Defaults()
	c.EtcdSecretsKeyFile = writeKeyFile(t, "etcd.key")
	c.EtcdUsername, c.EtcdPasswordFile = "portus", filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(c.EtcdPasswordFile, []byte("s3cret-etcd-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		store string
		warns bool
	}{
		{"etcd://10.0.0.1:2379,10.0.0.2:2379", true},
		{"etcd://127.0.0.1:2379,localhost:2380", false},
	} {
		c.Store = tc.store
		var logs bytes.Buffer
		o, err := etcdOptions(c, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatalf("%s: %v", tc.store, err)
		}
		if o.Username != "portus" || o.Password != "s3cret-etcd-pw" || len(o.SecretsKey) != etcdstore.SecretsKeyLen {
			t.Errorf("%s: options %q/%q, key %d bytes", tc.store, o.Username, o.Password, len(o.SecretsKey))
		}
		n := strings.Count(logs.String(), "level=WARN")
		if tc.warns && (n != 1 || !strings.Contains(logs.String(), "password hashes") || !strings.Contains(logs.String(), "--etcd-ca")) {
			t.Errorf("%s: want one warning naming --etcd-ca, got %q", tc.store, logs.String())
		}
		if !tc.warns && n != 0 {
			t.Errorf("%s: warned on loopback: %q", tc.store, logs.String())
		}
		if strings.Contains(logs.String(), "s3cret") {
			t.Errorf("the log shows the etcd password: %q", logs.String())
		}
	}
	c.EtcdSecretsKeyFile = ""
	if _, err := etcdOptions(c, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "head -c 32 /dev/urandom") {
		t.Errorf("without a key file: %v", err)
	}
}

// TestOpenCoreWrongSecretsKey: a replica whose key file differs from the
// one the deployment was started with refuses to start, naming its file.
func TestOpenCoreWrongSecretsKey(t *testing.T) {
	cluster := testetcd.Start(t, 1)
	c := config.Defaults()
	c.Data = t.TempDir()
	c.Store = cluster.Spec()
	c.EtcdSecretsKeyFile = writeKeyFile(t, "first.key")
	core, err := OpenCore(c, account.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	core.Close()
	c.EtcdSecretsKeyFile = writeKeyFile(t, "other.key")
	_, err = OpenCore(c, account.Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "other.key") || !strings.Contains(err.Error(), "does not decrypt the stored pepper: is --etcd-secrets-key-file the same on every replica?") {
		t.Errorf("wrong key: %v", err)
	}
}
