package etcdstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/model"
)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// storeSecrets creates the three shared secrets with random values and
// returns them by name.
func storeSecrets(t *testing.T, s *Store) map[string][]byte {
	t.Helper()
	want := map[string][]byte{}
	for _, name := range model.SecretNames {
		v := randomBytes(t, 32)
		if name != model.SecretPepper {
			v = []byte("-----BEGIN TEST-----\n" + strings.Repeat("A", 64) + string(v) + "\n-----END TEST-----\n")
		}
		got, err := s.SharedSecret(name, func() ([]byte, error) { return v, nil })
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("SharedSecret(%s) = %q, %v", name, got, err)
		}
		want[name] = v
	}
	return want
}

// rawValues returns every value stored under prefix, read around the store.
func rawValues(t *testing.T, c *testetcd.Cluster, prefix string) map[string][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Client(t).Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

// testSecretsSealed: neither a read of the keys nor a snapshot of the
// whole cluster holds a shared secret in plaintext, and a second replica
// with the same key reads them.
func testSecretsSealed(t *testing.T, c *testetcd.Cluster) {
	prefix := freshPrefix()
	want := storeSecrets(t, open(t, c, Options{Prefix: prefix}))
	raw := rawValues(t, c, prefix)
	for _, name := range model.SecretNames {
		v, ok := raw[prefix+"secrets/"+name]
		if !ok || !bytes.HasPrefix(v, []byte(sealMagic)) {
			t.Errorf("%s is not sealed in etcd: %q", name, v)
		}
	}
	for key, v := range raw {
		for name, secret := range want {
			if bytes.Contains(v, secret) {
				t.Errorf("%s holds the %s in plaintext", key, name)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := c.Client(t).Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	db, err := io.ReadAll(snap)
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range want {
		if bytes.Contains(db, secret) {
			t.Errorf("the etcd snapshot (%d bytes) holds the %s in plaintext", len(db), name)
		}
	}
	other := open(t, c, Options{Prefix: prefix})
	for name, secret := range want {
		if got, err := other.SharedSecret(name, nil); err != nil || !bytes.Equal(got, secret) {
			t.Errorf("second replica: %s = %q, %v", name, got, err)
		}
	}
}

// testWrongSecretsKey: a replica with another key refuses to open, naming
// its key file and the setting; one without a key refuses too.
func testWrongSecretsKey(t *testing.T, c *testetcd.Cluster) {
	prefix := freshPrefix()
	storeSecrets(t, open(t, c, Options{Prefix: prefix}))
	o := Options{Endpoints: c.Endpoints(), Prefix: prefix, Logger: quietLogger(),
		SecretsKey: randomBytes(t, SecretsKeyLen), SecretsKeyFile: "/etc/portus/other.key"}
	s, err := Open(o)
	if err == nil {
		s.Close()
		t.Fatal("Open with another secrets key succeeded")
	}
	for _, part := range []string{"/etc/portus/other.key", "does not decrypt the stored pepper", "is --etcd-secrets-key-file the same on every replica?"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %q", err, part)
		}
	}
	o.SecretsKey = nil
	if s, err := Open(o); err == nil {
		s.Close()
		t.Error("a store without a key opened sealed secrets")
	} else if !strings.Contains(err.Error(), "--etcd-secrets-key-file") {
		t.Errorf("without a key: %v", err)
	}
}

// testPlaintextSecretsMigrate: secrets an older deployment stored in
// plaintext are sealed when a store with a key opens, and read the same.
func testPlaintextSecretsMigrate(t *testing.T, c *testetcd.Cluster) {
	prefix := freshPrefix()
	old := openWith(t, c, testOptions{Options: Options{Prefix: prefix}, plaintext: true})
	want := storeSecrets(t, old)
	old.Close()
	raw := rawValues(t, c, prefix)
	if !bytes.Equal(raw[prefix+"secrets/"+model.SecretPepper], want[model.SecretPepper]) {
		t.Fatal("the old deployment did not store its pepper in plaintext")
	}
	s := open(t, c, Options{Prefix: prefix})
	raw = rawValues(t, c, prefix)
	for name, secret := range want {
		v := raw[prefix+"secrets/"+name]
		if !bytes.HasPrefix(v, []byte(sealMagic)) || bytes.Contains(v, secret) {
			t.Errorf("%s not sealed after the first start with a key: %q", name, v)
		}
		if got, err := s.SharedSecret(name, nil); err != nil || !bytes.Equal(got, secret) {
			t.Errorf("%s after migration = %q, %v", name, got, err)
		}
	}
	// Rotation still compares with the plaintext.
	next := randomBytes(t, 32)
	if got, err := s.ReplaceSharedSecret(model.SecretPepper, want[model.SecretPepper], next); err != nil || !bytes.Equal(got, next) {
		t.Errorf("ReplaceSharedSecret after migration = %q, %v", got, err)
	}
}

func TestSealer(t *testing.T) {
	s, err := newSealer(testSecretsKey, "k")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.seal(model.SecretPepper, []byte("p"))
	b, _ := s.seal(model.SecretPepper, []byte("p"))
	if bytes.Equal(a, b) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if got, legacy, err := s.open(model.SecretPepper, a); err != nil || legacy || string(got) != "p" {
		t.Errorf("open = %q, %v, %v", got, legacy, err)
	}
	if _, _, err := s.open(model.SecretSigningKey, a); err == nil {
		t.Error("the pepper's value opened as the signing key: values can be swapped")
	}
	if _, _, err := s.open(model.SecretPepper, []byte(sealMagic+"\x02xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("a future version: %v", err)
	}
	if _, err := newSealer(make([]byte, 16), "k"); err == nil {
		t.Error("a 16-byte key was accepted")
	}
}

func TestReadSecretsKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	raw := randomBytes(t, SecretsKeyLen)
	if k, err := ReadSecretsKey(write("raw", raw, 0o600)); err != nil || !bytes.Equal(k, raw) {
		t.Errorf("raw key: %v", err)
	}
	hexKey, _ := NewSecretsKey()
	if k, err := ReadSecretsKey(write("hex", hexKey, 0o640)); err != nil || len(k) != SecretsKeyLen {
		t.Errorf("hex key: %v", err)
	}
	if _, err := ReadSecretsKey(write("open", raw, 0o644)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
	if _, err := ReadSecretsKey(write("short", []byte("hunter2\n"), 0o600)); err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "head -c 32 /dev/urandom") {
		t.Errorf("short key: %v", err)
	}
}
