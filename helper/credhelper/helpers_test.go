package credhelper_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/portusproject/portus/helper/credhelper"
	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apptoken"
	"github.com/zalando/go-keyring"
)

const (
	password  = "alice's LDAP password"
	hostname  = "testbox"
	tokenName = "docker-credential-portus@" + hostname
)

// env is one test's world: go-keyring's in-memory fake, a fake Portus
// server behind a fake registry, a configuration file and the helper.
type env struct {
	t        *testing.T
	portus   *fakeportus.Server
	registry string // the fake registry's address, localhost:PORT
	cfgPath  string
	lockDir  string
	stderr   *testutil.LockedBuffer
	debug    bool
	backend  keychain.Backend
	hostname string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	keyring.MockInit()
	s := fakeportus.New(t, fakeportus.Options{})
	s.AddUser("alice", password)
	s.AddUser("bob", "bob's password")
	return &env{
		t:        t,
		portus:   s,
		registry: s.RegistryHost(),
		cfgPath:  filepath.Join(t.TempDir(), "config.json"),
		lockDir:  t.TempDir(),
		stderr:   &testutil.LockedBuffer{},
		backend:  keychain.OSKeyring{SkipBusCheck: true},
		hostname: hostname,
	}
}

// config writes the configuration file.
func (e *env) config(v any) {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(e.cfgPath, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// helper returns a fresh Helper, as a new helper process would be.
func (e *env) helper() *credhelper.Helper {
	return credhelper.New(credhelper.Options{
		Backend:    e.backend,
		ConfigPath: e.cfgPath,
		LockDir:    e.lockDir,
		Stderr:     e.stderr,
		Debug:      e.debug,
		Hostname:   e.hostname,
	})
}

func (e *env) store(server, user, secret string) error {
	return e.helper().Add(&credentials.Credentials{ServerURL: server, Username: user, Secret: secret})
}

func (e *env) mustStore(server, user, secret string) {
	e.t.Helper()
	if err := e.store(server, user, secret); err != nil {
		e.t.Fatalf("store %s: %v", server, err)
	}
}

func (e *env) get(server string) (string, string, error) { return e.helper().Get(server) }

func (e *env) mustGet(server string) (string, string) {
	e.t.Helper()
	u, s, err := e.get(server)
	if err != nil {
		e.t.Fatalf("get %s: %v", server, err)
	}
	return u, s
}

func (e *env) list() map[string]string {
	e.t.Helper()
	m, err := e.helper().List()
	if err != nil {
		e.t.Fatalf("list: %v", err)
	}
	return m
}

// apiRequests is how many requests reached the fake Portus API.
func (e *env) apiRequests() int {
	n, _, _ := e.portus.Counts()
	return n
}

// noSecrets fails if any of msgs holds the password or a whole token.
func (e *env) noSecrets(msgs ...string) {
	e.t.Helper()
	msgs = append(msgs, e.stderr.String())
	for _, m := range msgs {
		if testutil.Leaks(m, password, "bob's password") {
			e.t.Fatalf("a password leaked into %q", m)
		}
		for _, f := range strings.FieldsFunc(m, func(r rune) bool {
			return !strings.ContainsRune("ptk_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", r)
		}) {
			if apptoken.LooksLike(f) {
				e.t.Fatalf("a token leaked into %q", m)
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// notFound checks that get reports exactly what docker expects.
func (e *env) notFound(server string) {
	e.t.Helper()
	_, _, err := e.get(server)
	if err == nil || err.Error() != "credentials not found in native keychain" || !credentials.IsErrCredentialsNotFound(err) {
		e.t.Fatalf("get %s: %v, want credentials not found", server, err)
	}
}

func (failingSet) Set(string, string, string) error {
	return errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'")
}

func (f failingItemSet) Set(service, user, secret string) error {
	if service == keychain.Service {
		return errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'")
	}
	return f.OSKeyring.Set(service, user, secret)
}
