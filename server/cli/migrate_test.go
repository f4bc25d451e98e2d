package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/model"
)

// openCore opens a Core on c with cheap password hashing.
func openCore(t *testing.T, c config.Config) *app.Core {
	t.Helper()
	core, err := app.OpenCore(c, account.Options{PasswordParams: testserver.CheapParams})
	if err != nil {
		t.Fatalf("OpenCore(%s): %v", c.Store, err)
	}
	return core
}

// checkDeployment opens c and checks that it holds what TestMigrate wrote
// on the bbolt installation: the token works, the signing key is the same.
func checkDeployment(t *testing.T, c config.Config, token, keyID string, minActs int) {
	t.Helper()
	core := openCore(t, c)
	defer core.Close()
	p, err := core.Accounts.AuthenticateToken("alice", token, "192.0.2.1")
	if err != nil || !p.User.Admin {
		t.Errorf("%s: the migrated token: %+v, %v", c.Store, p.User, err)
	}
	if _, err := core.Accounts.AuthenticatePassword("alice", "correct horse", "192.0.2.1"); err != nil {
		t.Errorf("%s: the migrated password: %v", c.Store, err)
	}
	issuer, err := core.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	if issuer.Signer.KeyID() != keyID {
		t.Errorf("%s: signing key %s, want the original %s", c.Store, issuer.Signer.KeyID(), keyID)
	}
	acts, err := core.Store.Activities(model.ActivityQuery{Limit: 100})
	if err != nil || len(acts) < minActs {
		t.Errorf("%s: %d audit entries, %v; want at least %d", c.Store, len(acts), err, minActs)
	}
}

// TestMigrate copies a single-machine installation into etcd and back, and
// runs the admin CLI and registry-config against the etcd deployment.
func TestMigrate(t *testing.T) {
	cluster := testetcd.Start(t, 3)
	spec := cluster.Spec()
	keyFile := filepath.Join(t.TempDir(), "etcd-secrets.key")
	ok(t, "", "etcd-secrets-key", keyFile)
	if m := mode(t, keyFile); m != 0o600 {
		t.Errorf("the new etcd secrets key has mode %o, want 600", m)
	}
	if r := portus(t, "", "etcd-secrets-key", keyFile); r.code == 0 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("etcd-secrets-key over an existing file: exit %d, %s", r.code, r.stderr)
	}

	// A bbolt installation with a user, a token, audit entries and a key.
	bolt := config.Defaults()
	bolt.Data = filepath.Join(t.TempDir(), "data")
	core := openCore(t, bolt)
	actor := account.Actor{Name: "test"}
	if _, err := core.Accounts.CreateUser(actor, "alice", "correct horse", true, false); err != nil {
		t.Fatal(err)
	}
	created, err := core.Accounts.CreateToken(actor, "alice", account.NewToken{Name: "ci", Via: "test"})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := core.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	keyID := issuer.Signer.KeyID()
	if err := core.Close(); err != nil {
		t.Fatal(err)
	}

	// Into etcd.
	r := ok(t, "", "migrate", "--from", "bbolt:"+bolt.Data, "--to", spec, "--etcd-prefix", "/migrated/", "--etcd-secrets-key-file", keyFile)
	if !strings.Contains(r.stderr, "Copied 1 users, 1 application tokens") {
		t.Errorf("migrate said: %s", r.stderr)
	}
	etcd := config.Defaults()
	etcd.Data = filepath.Join(t.TempDir(), "replica")
	etcd.Store, etcd.EtcdPrefix, etcd.EtcdSecretsKeyFile = spec, "/migrated/", keyFile
	checkDeployment(t, etcd, created.Token, keyID, 2)

	// A destination that holds data is refused without --force.
	r = portus(t, "", "migrate", "--from", "bbolt:"+bolt.Data, "--to", spec, "--etcd-prefix", "/migrated/", "--etcd-secrets-key-file", keyFile)
	if r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("migrate onto a full destination: exit %d, %s", r.code, r.stderr)
	}
	ok(t, "", "migrate", "--from", "bbolt:"+bolt.Data, "--to", spec, "--etcd-prefix", "/migrated/", "--etcd-secrets-key-file", keyFile, "--force")
	checkDeployment(t, etcd, created.Token, keyID, 2)

	// The admin CLI with no server on the socket opens the cluster itself,
	// and registry-config writes the shared certificate.
	data := []string{"--data", etcd.Data, "--store", spec, "--etcd-prefix", "/migrated/", "--etcd-secrets-key-file", keyFile}
	if out := ok(t, "", append([]string{"user", "list"}, data...)...).stdout; !strings.Contains(out, "alice") {
		t.Errorf("user list on etcd: %s", out)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	ok(t, "", append([]string{"registry-config", "--bundle", bundle}, data...)...)
	pem, err := os.ReadFile(bundle)
	if err != nil || !bytes.Equal(pem, issuer.Signer.CertificatePEM()) {
		t.Errorf("registry-config on etcd wrote another certificate than the migrated one (%v)", err)
	}

	// And back into a new single-machine installation.
	back := config.Defaults()
	back.Data = filepath.Join(t.TempDir(), "back")
	ok(t, "", "migrate", "--from", spec, "--etcd-prefix", "/migrated/", "--etcd-secrets-key-file", keyFile, "--to", "bbolt:"+back.Data)
	checkDeployment(t, back, created.Token, keyID, 2)
	for _, name := range []string{"portus.db", "pepper", "registry-signing.key", "registry-signing.crt"} {
		if m := mode(t, filepath.Join(back.Data, name)); m != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, m)
		}
	}

	// --force onto a bbolt directory keeps the old database and its
	// secrets beside the new ones.
	r = portus(t, "", "migrate", "--from", spec, "--etcd-prefix", "/migrated/", "--etcd-secrets-key-file", keyFile, "--to", "bbolt:"+back.Data)
	if r.code == 0 {
		t.Error("migrate onto a full bbolt directory succeeded without --force")
	}
	ok(t, "", "migrate", "--from", spec, "--etcd-prefix", "/migrated/", "--etcd-secrets-key-file", keyFile, "--to", "bbolt:"+back.Data, "--force")
	checkDeployment(t, back, created.Token, keyID, 2)
	for _, name := range []string{"portus.db", "pepper"} {
		if m, _ := filepath.Glob(filepath.Join(back.Data, name+".replaced-*")); len(m) != 1 {
			t.Errorf("after --force, %s.replaced-* = %v; want the old one kept", name, m)
		}
	}
}
