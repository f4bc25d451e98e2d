package credhelper_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/portusproject/portus/helper/credhelper"
	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/helper/portusclient"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
	"github.com/zalando/go-keyring"
)

const (
	password  = "alice's LDAP password"
	hostname  = "testbox"
	tokenName = "docker-credential-portus@" + hostname
)

// syncBuffer is a bytes.Buffer safe for the helper's and the test's use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is one test's world: go-keyring's in-memory fake, a fake Portus
// server behind a fake registry, a configuration file and the helper.
type env struct {
	t        *testing.T
	portus   *fakeportus.Server
	registry string // the fake registry's address, localhost:PORT
	cfgPath  string
	lockDir  string
	stderr   *syncBuffer
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
		stderr:   &syncBuffer{},
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
		if strings.Contains(m, password) || strings.Contains(m, "bob's password") {
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

func TestStoreExchangesPasswordForToken(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)

	toks := e.portus.Tokens("alice")
	if len(toks) != 1 || toks[0].Name != tokenName || toks[0].CreatedVia != apitypes.ViaHelper || toks[0].Scope != "push" {
		t.Fatalf("server tokens: %+v", toks)
	}
	user, secret := e.mustGet(e.registry)
	if user != "alice" || secret != toks[0].Plain {
		t.Fatalf("get = %q, %q; want alice and the new token", user, apptoken.Redact(secret))
	}
	// The keyring item: service, user, a small JSON record, no password.
	raw, err := keyring.Get(keychain.Service, e.registry)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, password) || len(raw) > keychain.MaxValueLen {
		t.Fatalf("keyring item holds the password or is too large: %d bytes", len(raw))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"v": 1.0, "kind": "created", "username": "alice", "secret": toks[0].Plain,
		"portus": e.portus.URL(), "token_name": tokenName, "token_id": toks[0].ID}
	if !maps.Equal(rec, want) {
		t.Fatalf("keyring record %v, want %v", rec, want)
	}
	if got := e.list(); !maps.Equal(got, map[string]string{e.registry: "alice"}) {
		t.Fatalf("list = %v", got)
	}
	if e.stderr.String() != "" {
		t.Fatalf("store printed %q on success", e.stderr)
	}
	e.noSecrets()
}

func TestServerURLsAreNormalised(t *testing.T) {
	e := newEnv(t)
	port := strings.TrimPrefix(e.registry, "localhost:")
	e.mustStore("http://LOCALHOST:"+port+"/", "alice", password)
	for _, spelling := range []string{e.registry, "https://localhost:" + port, "localhost:" + port + "/v2/", "LocalHost:" + port} {
		if u, _ := e.mustGet(spelling); u != "alice" {
			t.Fatalf("get %s = %q", spelling, u)
		}
	}
	if got := e.list(); !maps.Equal(got, map[string]string{e.registry: "alice"}) {
		t.Fatalf("list = %v", got)
	}
	// docker logout's four spellings: the first revokes and deletes, the others find nothing.
	for _, spelling := range []string{"localhost:" + port, "LOCALHOST:" + port, "http://localhost:" + port, "https://localhost:" + port} {
		if err := e.helper().Delete(spelling); err != nil {
			t.Fatalf("erase %s: %v", spelling, err)
		}
	}
	e.notFound(e.registry)
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatalf("token not revoked: %+v", toks)
	}
	if _, _, revokes := e.portus.Counts(); revokes != 1 {
		t.Fatalf("%d revocations, want 1", revokes)
	}
}

func TestStoreSameSecretAsksNobody(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	user, token := e.mustGet(e.registry)
	requests, probes := e.apiRequests(), e.portus.Probes()

	// docker login without -u: get, then store of what get returned.
	e.mustStore(e.registry, user, token)
	if e.apiRequests() != requests || e.portus.Probes() != probes {
		t.Fatal("storing the stored token again talked to the server")
	}
	if _, again := e.mustGet(e.registry); again != token {
		t.Fatal("the stored token changed")
	}
	if toks := e.portus.Tokens("alice"); len(toks) != 1 {
		t.Fatalf("server tokens: %+v", toks)
	}
}

func TestSecondLoginReplacesToken(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	_, first := e.mustGet(e.registry)
	e.mustStore(e.registry, "alice", password)
	_, second := e.mustGet(e.registry)
	toks := e.portus.Tokens("alice")
	if first == second || len(toks) != 1 || toks[0].Plain != second {
		t.Fatalf("after two logins the server holds %d tokens", len(toks))
	}
}

func TestSwitchingUserRevokesOldToken(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	e.mustStore(e.registry, "bob", "bob's password")
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatalf("alice's token survived the switch to bob: %+v", toks)
	}
	if u, _ := e.mustGet(e.registry); u != "bob" {
		t.Fatalf("get user = %q", u)
	}
}

func TestReplacingOurTokenRevokesIt(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	mine := e.portus.Tokens("alice")[0]
	manual := e.portus.IssueToken("alice", "ci")
	e.mustStore(e.registry, "alice", manual) // docker login -u alice with a token of hers
	toks := e.portus.Tokens("alice")
	if len(toks) != 1 || toks[0].Plain != manual {
		t.Fatalf("the helper's token %s was not revoked when replaced: server holds %d tokens", mine.Name, len(toks))
	}
}

func TestStoreTokenKeptAsIs(t *testing.T) {
	e := newEnv(t)
	token := e.portus.IssueToken("alice", "ci")
	requests := e.apiRequests()
	e.mustStore(e.registry, "alice", token)
	if e.apiRequests() != requests || e.portus.Probes() != 0 {
		t.Fatal("storing a token talked to the server")
	}
	if u, s := e.mustGet(e.registry); u != "alice" || s != token {
		t.Fatalf("get = %q, %s", u, apptoken.Redact(s))
	}
	// Not ours to revoke: erase deletes it here and says so.
	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatal(err)
	}
	e.notFound(e.registry)
	if toks := e.portus.Tokens("alice"); len(toks) != 1 {
		t.Fatal("erase revoked a token the helper did not create")
	}
	if !strings.Contains(e.stderr.String(), "not revoked") || !strings.Contains(e.stderr.String(), apptoken.Redact(token)) {
		t.Fatalf("stderr %q does not explain", e.stderr)
	}
	e.noSecrets()
}

func TestStoreMistypedToken(t *testing.T) {
	e := newEnv(t)
	token := e.portus.IssueToken("alice", "ci")
	typo := token[:10] + "X" + token[11:]
	if typo == token {
		typo = token[:10] + "Y" + token[11:]
	}
	err := e.store(e.registry, "alice", typo)
	if err == nil || !strings.Contains(err.Error(), "typo") {
		t.Fatalf("store of a mistyped token: %v", err)
	}
	if e.apiRequests() != 0 {
		t.Fatal("a mistyped token was sent to the server as a password")
	}
	e.notFound(e.registry)
	e.noSecrets(errText(err))
}

func TestStoreIdentityToken(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "<token>", "an-identity-token")
	if e.apiRequests() != 0 || e.portus.Probes() != 0 {
		t.Fatal("storing an identity token talked to the server")
	}
	if u, s := e.mustGet(e.registry); u != "<token>" || s != "an-identity-token" {
		t.Fatalf("get = %q, %q", u, s)
	}
	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatal(err)
	}
	e.notFound(e.registry)
}

func TestStoreErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
		user  string
		want  []string
	}{
		{"wrong password", func(e *env) {}, "mallory",
			[]string{"refused the username or password", `"mallory"`, "nothing was stored"}},
		{"limit reached", func(e *env) { e.portus.SetLimit(1); e.portus.IssueToken("alice", "laptop") }, "alice",
			[]string{"as many application tokens", "more than 1 application tokens", "/profile", "revoke one"}},
		{"throttled", func(e *env) {
			e.portus.Fail(&fakeportus.Failure{Status: http.StatusTooManyRequests, Message: "too many attempts", RetryAfter: "60"})
		}, "alice", []string{"try again in 1m0s"}},
		{"server error", func(e *env) {
			e.portus.Fail(&fakeportus.Failure{Status: http.StatusInternalServerError, Message: "disk full"})
		}, "alice", []string{"failed (HTTP 500: disk full)"}},
		{"unreachable portus", func(e *env) {
			e.config(map[string]any{"registries": map[string]any{e.registry: map[string]any{"portus": fakeportus.Unreachable(e.t)}}})
		}, "alice", []string{"cannot reach Portus at http://localhost:", "nothing was stored"}},
		{"unreachable registry", func(e *env) {
			e.registry = strings.TrimPrefix(fakeportus.Unreachable(e.t), "http://")
		}, "alice", []string{"finding the Portus server of", "cannot reach the registry"}},
		{"bad config", func(e *env) { e.config(map[string]any{"strikt": true}) }, "alice",
			[]string{"configuration file", "strikt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			profile := e.portus.URL() + "/profile"
			tt.setup(e)
			pw := password
			if tt.user == "mallory" {
				pw = "guess"
			}
			err := e.store(e.registry, tt.user, pw)
			if err == nil {
				t.Fatal("store succeeded")
			}
			t.Logf("store error: %v", err)
			for _, want := range tt.want {
				if want == "/profile" {
					want = profile
				}
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			e.portus.Fail(nil)
			if tt.name != "bad config" {
				e.notFound(e.registry)
				if got := e.list(); len(got) != 0 {
					t.Errorf("list after a failed store = %v", got)
				}
			}
			e.noSecrets(err.Error())
		})
	}
}

func TestRegistryWithoutPortus(t *testing.T) {
	e := newEnv(t)
	plain := fakeportus.Registry(t, http.StatusUnauthorized, `Basic realm="Registry Realm"`)
	e.mustStore(plain, "alice", password)
	if u, s := e.mustGet(plain); u != "alice" || s != password {
		t.Fatal("the password of a registry without Portus was not stored")
	}
	msg := e.stderr.String()
	t.Logf("stderr: %s", msg)
	for _, want := range []string{plain, "does not delegate authentication to a Portus server", "basic authentication",
		"stored as it is in the OS keyring", `"strict": true`, e.cfgPath} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	// erase just deletes it.
	if err := e.helper().Delete(plain); err != nil {
		t.Fatal(err)
	}
	e.notFound(plain)
}

func TestStrictRefusesRegistryWithoutPortus(t *testing.T) {
	e := newEnv(t)
	e.config(map[string]any{"strict": true})
	plain := fakeportus.Registry(t, http.StatusOK, "")
	err := e.store(plain, "alice", password)
	if err == nil || !strings.Contains(err.Error(), "refusing to store a password") || !strings.Contains(err.Error(), "strict") ||
		!strings.Contains(err.Error(), "asks for no authentication") {
		t.Fatalf("strict store: %v", err)
	}
	e.notFound(plain)
	// Strict does not get in the way of Portus registries.
	e.mustStore(e.registry, "alice", password)
	e.noSecrets(err.Error())
}

func TestConfiguredPortusSkipsDiscovery(t *testing.T) {
	e := newEnv(t)
	e.config(map[string]any{"registries": map[string]any{
		"https://Registry.Example.com/": map[string]any{"portus": e.portus.URL(), "scope": "pull"},
	}})
	e.mustStore("registry.example.com", "alice", password)
	toks := e.portus.Tokens("alice")
	if len(toks) != 1 || toks[0].Scope != "pull" {
		t.Fatalf("server tokens: %+v", toks)
	}
	if e.portus.Probes() != 0 {
		t.Fatal("the registry was probed although Portus is configured")
	}
}

func TestPortusWithPrivateCA(t *testing.T) {
	e := newEnv(t)
	s := fakeportus.New(t, fakeportus.Options{TLS: true})
	s.AddUser("alice", password)
	e.config(map[string]any{"registries": map[string]any{"registry.example.com": map[string]any{"portus": s.URL()}}})
	err := e.store("registry.example.com", "alice", password)
	if err == nil || !strings.Contains(err.Error(), "TLS") || !strings.Contains(err.Error(), `"ca_file" for this registry in `+e.cfgPath) {
		t.Fatalf("store without the CA: %v", err)
	}
	e.config(map[string]any{"registries": map[string]any{"registry.example.com": map[string]any{
		"portus": s.URL(), "ca_file": s.CAFile(t, t.TempDir()),
	}}})
	e.mustStore("registry.example.com", "alice", password)
	if err := e.helper().Delete("registry.example.com"); err != nil {
		t.Fatal(err)
	}
	if toks := s.Tokens("alice"); len(toks) != 0 {
		t.Fatal("erase did not revoke over TLS with the CA file")
	}
}

func TestEraseRevokesAndIsIdempotent(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	for range 3 {
		if err := e.helper().Delete(e.registry); err != nil {
			t.Fatal(err)
		}
	}
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatal("token not revoked")
	}
	e.notFound(e.registry)
	if got := e.list(); len(got) != 0 {
		t.Fatalf("list = %v", got)
	}
	if e.stderr.String() != "" {
		t.Fatalf("erase printed %q", e.stderr)
	}
	// Erasing what was never stored is fine too.
	if err := e.helper().Delete("never.example.com"); err != nil {
		t.Fatal(err)
	}
}

func TestEraseWhenAlreadyRevoked(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	user, token := e.mustGet(e.registry)
	// Revoked elsewhere (the profile page, say) before docker logout.
	c, err := portusclient.New(e.portus.URL(), portusclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeCurrent(context.Background(), user, token); err != nil {
		t.Fatal(err)
	}
	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatal(err)
	}
	e.notFound(e.registry)
	if e.stderr.String() != "" {
		t.Fatalf("erase of an already revoked token printed %q", e.stderr)
	}
}

func TestEraseWithPortusUnreachable(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	_, token := e.mustGet(e.registry)
	e.portus.Portus.Close()

	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatalf("erase with the server down: %v", err)
	}
	e.notFound(e.registry)
	if got := e.list(); len(got) != 0 {
		t.Fatalf("list = %v", got)
	}
	msg := e.stderr.String()
	t.Logf("stderr: %s", msg)
	for _, want := range []string{"warning: could not revoke", tokenName, apptoken.Redact(token), `"alice"`,
		"remains valid", e.portus.URL() + "/profile", "cannot reach Portus"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	e.noSecrets()
}

func TestStoreRevokesTokenItCannotKeep(t *testing.T) {
	e := newEnv(t)
	e.backend = failingSet{keychain.OSKeyring{SkipBusCheck: true}}
	err := e.store(e.registry, "alice", password)
	if err == nil || !strings.Contains(err.Error(), "the keyring is locked") {
		t.Fatalf("store with a keyring refusing writes: %v", err)
	}
	if _, creates, revokes := e.portus.Counts(); creates != 1 || revokes != 1 {
		t.Fatalf("created %d, revoked %d tokens; want the new token revoked again", creates, revokes)
	}
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatal("an orphan token remains on the server")
	}
}

// failingSet is a keyring that reads but refuses to write.
type failingSet struct{ keychain.OSKeyring }

func (failingSet) Set(string, string, string) error {
	return errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'")
}

func TestValueTooLarge(t *testing.T) {
	e := newEnv(t)
	err := e.store(e.registry, "<token>", strings.Repeat("x", 3000))
	// One size check, the keychain's: its error, with the helper's hint.
	if !errors.Is(err, keychain.ErrTooLarge) || !strings.Contains(err.Error(), "more than the 2500 a keyring item may hold") ||
		!strings.Contains(err.Error(), "is the username or identity token that long?") {
		t.Fatalf("store of a 3000-byte identity token: %v", err)
	}
	e.notFound(e.registry)
}

func TestGetNotFound(t *testing.T) {
	e := newEnv(t)
	e.notFound(e.registry)
	e.notFound("https://index.docker.io/v1/")
	e.notFound("not a registry address")
	// Through the protocol: exactly docker's text.
	var out bytes.Buffer
	err := credentials.HandleCommand(e.helper(), credentials.ActionGet, strings.NewReader(e.registry+"\n"), &out)
	if err == nil || err.Error() != "credentials not found in native keychain" || out.Len() != 0 {
		t.Fatalf("get via HandleCommand: err %v, out %q", err, out.String())
	}
}

func TestListThroughProtocol(t *testing.T) {
	e := newEnv(t)
	var out bytes.Buffer
	if err := credentials.HandleCommand(e.helper(), credentials.ActionList, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "{}\n" {
		t.Fatalf("empty list = %q, want {}", out.String())
	}
	e.mustStore(e.registry, "alice", password)
	e.mustStore("https://index.docker.io/v1/", "<token>", "hub-identity-token")
	e.mustStore("docker.io", "<token>", "hub-identity-token") // the same server
	out.Reset()
	if err := credentials.HandleCommand(e.helper(), credentials.ActionList, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{e.registry: "alice", "https://index.docker.io/v1/": "<token>"}
	if !maps.Equal(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
	// Every listed key works with get.
	for server := range got {
		e.mustGet(server)
	}
}

func TestConcurrentStores(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	want := map[string]string{}
	for i := range 8 {
		server := fmt.Sprintf("registry-%d.example.com", i)
		want[server] = "<token>"
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.store(server, "<token>", "identity-"+server); err != nil {
				t.Error(err)
			}
		}()
	}
	// A real exchange at the same time as well.
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := e.store(e.registry, "alice", password); err != nil {
			t.Error(err)
		}
	}()
	want[e.registry] = "alice"
	wg.Wait()
	if got := e.list(); !maps.Equal(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
}

func TestLockedKeyring(t *testing.T) {
	e := newEnv(t)
	keyring.MockInitWithError(errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"))
	check := func(action string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "the keyring is locked") || !strings.Contains(err.Error(), "unlock") {
			t.Errorf("%s with a locked keyring: %v", action, err)
		}
	}
	check("store", e.store(e.registry, "alice", password))
	_, _, err := e.get(e.registry)
	check("get", err)
	check("erase", e.helper().Delete(e.registry))
	_, err = e.helper().List()
	check("list", err)
	if e.apiRequests() != 0 || len(e.portus.Tokens("alice")) != 0 {
		t.Fatal("store asked the server for a token it could not keep")
	}
}

func TestNoSecretService(t *testing.T) {
	e := newEnv(t)
	keyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	_, _, err := e.get(e.registry)
	if !errors.Is(err, keychain.ErrNoSecretService) || !strings.Contains(err.Error(), "gnome-keyring") {
		t.Fatalf("get without a Secret Service: %v", err)
	}
}

func TestDebugHasNoSecrets(t *testing.T) {
	e := newEnv(t)
	e.debug = true
	e.mustStore(e.registry, "alice", password)
	_, token := e.mustGet(e.registry)
	e.mustStore(e.registry, "alice", token)
	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatal(err)
	}
	msg := e.stderr.String()
	for _, want := range []string{"level=DEBUG", "discovered", apptoken.Redact(token), "revoked"} {
		if !strings.Contains(msg, want) {
			t.Errorf("debug output lacks %q:\n%s", want, msg)
		}
	}
	e.noSecrets()
}

func TestIdentify(t *testing.T) {
	credhelper.Identify("v1.2.3")
	var out bytes.Buffer
	if err := credentials.PrintVersion(&out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "docker-credential-portus (github.com/portusproject/portus) v1.2.3\n" {
		t.Fatalf("version = %q", got)
	}
	credhelper.Identify("")
	if credentials.Version != "dev" {
		t.Fatalf("default version = %q, want dev (a test binary has no module version)", credentials.Version)
	}
}

func TestLongHostnames(t *testing.T) {
	e := newEnv(t)
	// The server takes at most 64 characters; the prefix leaves 39.
	long := "build-agent-0017.ci-runners.europe-west-1.corp.example.com"
	twin := "build-agent-0017.ci-runners.europe-west-1.corp.example.org" // the same first 55
	e.hostname = long
	e.mustStore(e.registry, "alice", password)
	toks := e.portus.Tokens("alice")
	if len(toks) != 1 {
		t.Fatalf("server tokens after a login from %s: %+v", long, toks)
	}
	name := toks[0].Name
	if n := len([]rune(name)); n > 64 || !strings.HasPrefix(name, "docker-credential-portus@build-agent-0017.") {
		t.Fatalf("token name %q (%d characters)", name, n)
	}
	// The same host gets the same name: the next login replaces the token.
	e.mustStore(e.registry, "alice", password)
	toks = e.portus.Tokens("alice")
	if len(toks) != 1 || toks[0].Name != name {
		t.Fatalf("second login from the same host: server tokens %+v, want one named %q", toks, name)
	}
	_, token := e.mustGet(e.registry)
	if toks[0].Plain != token {
		t.Fatal("the keyring does not hold the server's token")
	}
	// Another long host name with the same beginning gets another name.
	e.config(map[string]any{"registries": map[string]any{"registry.example.com": map[string]any{"portus": e.portus.URL()}}})
	e.hostname = twin
	e.mustStore("registry.example.com", "alice", password)
	toks = e.portus.Tokens("alice")
	if len(toks) != 2 || toks[0].Name == toks[1].Name || len([]rune(toks[1].Name)) > 64 {
		t.Fatalf("logins from %s and %s: server tokens %+v, want two with different names", long, twin, toks)
	}
	// A host name that fits is used as it is.
	e.hostname = strings.Repeat("h", 39)
	e.mustStore(e.registry, "alice", password)
	found := false
	for _, tok := range e.portus.Tokens("alice") {
		found = found || tok.Name == "docker-credential-portus@"+strings.Repeat("h", 39)
	}
	if !found {
		t.Fatalf("a 39-character host name was not used as it is: %+v", e.portus.Tokens("alice"))
	}
}

// TestConcurrentStoresSameServer: two logins to one registry at once. Login
// A's token T1 is created, but A sees the answer only after login B has
// created T2 (which replaced, so revoked, T1) and stored it. Without the
// per-server lock A then writes the dead T1 over T2.
func TestConcurrentStoresSameServer(t *testing.T) {
	e := newEnv(t)
	firstCreated := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseA := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseA)
	e.portus.OnCreate(func(n int, _ fakeportus.Token) {
		if n == 1 { // login A's token: hold its answer
			close(firstCreated)
			<-release
		}
	})
	errA := make(chan error, 1)
	go func() { errA <- e.store(e.registry, "alice", password) }()
	select {
	case <-firstCreated:
	case err := <-errA:
		t.Fatalf("login A ended before creating a token: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("login A created no token")
	}
	errB := make(chan error, 1)
	go func() { errB <- e.store(e.registry, "alice", password) }()
	// Without the lock, B completes now. With it, B waits for A.
	bFirst := false
	select {
	case err := <-errB:
		bFirst = true
		errB <- err
	case <-time.After(300 * time.Millisecond):
	}
	releaseA()
	for name, ch := range map[string]chan error{"A": errA, "B": errB} {
		if err := <-ch; err != nil {
			t.Errorf("login %s: %v", name, err)
		}
	}
	_, token := e.mustGet(e.registry)
	toks := e.portus.Tokens("alice")
	if len(toks) != 1 || toks[0].Plain != token {
		t.Fatalf("the keyring holds %s, the server %d live tokens (login B finished first: %v): the keyring must end with the token the server still accepts",
			apptoken.Redact(token), len(toks), bFirst)
	}
}

func TestStoreAndEraseHoldServerLock(t *testing.T) {
	e := newEnv(t)
	kc := keychain.New(keychain.Options{Backend: e.backend, LockDir: e.lockDir})
	holdLock := func(action string, f func() error) {
		t.Helper()
		unlock, err := kc.LockServer(e.registry, 0)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			unlock()
			t.Fatalf("%s ran while another helper held the lock of %s (err %v)", action, e.registry, err)
		case <-time.After(200 * time.Millisecond):
		}
		unlock()
		if err := <-done; err != nil {
			t.Fatalf("%s after the lock was released: %v", action, err)
		}
	}
	holdLock("store", func() error { return e.store(e.registry, "alice", password) })
	holdLock("erase", func() error { return e.helper().Delete("https://" + e.registry + "/") })
	e.notFound(e.registry)
	// Other servers do not wait for it.
	unlock, err := kc.LockServer(e.registry, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	e.mustStore("other.example.com", "<token>", "identity")
}

// registryByIP is the fake registry addressed as 127.0.0.1:PORT, whose
// realm names the Portus server as localhost: another host name.
func registryByIP(e *env) string {
	return strings.TrimPrefix(e.portus.Registry.URL, "http://")
}

func TestRealmOnAnotherHostIsAnnounced(t *testing.T) {
	e := newEnv(t)
	reg := registryByIP(e)
	portusHost := strings.TrimPrefix(e.portus.URL(), "http://")
	e.mustStore(reg, "alice", password)
	msg := e.stderr.String()
	want := "sending your password to " + portusHost + ", the token server named by " + reg
	if !strings.Contains(msg, want) {
		t.Fatalf("stderr %q lacks %q", msg, want)
	}
	if strings.Contains(msg, "level=DEBUG") {
		t.Fatal("debug output without PORTUS_HELPER_DEBUG")
	}
	// A configured Portus server is not announced.
	e.stderr = &syncBuffer{}
	e.config(map[string]any{"registries": map[string]any{reg: map[string]any{"portus": e.portus.URL()}}})
	e.mustStore(reg, "alice", password)
	if got := e.stderr.String(); got != "" {
		t.Fatalf("login with a configured Portus server printed %q", got)
	}
	e.noSecrets()
}

func TestStrictRefusesRealmOnAnotherHost(t *testing.T) {
	e := newEnv(t)
	reg := registryByIP(e)
	e.config(map[string]any{"strict": true})
	err := e.store(reg, "alice", password)
	for _, want := range []string{"refusing to send your password to localhost:", "the token server named by " + reg,
		`"strict": true`, e.cfgPath, `set it as "portus" for ` + reg} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("strict store with a realm on another host: error %v lacks %q", err, want)
		}
	}
	if e.apiRequests() != 0 {
		t.Fatal("the password was sent to the realm's host")
	}
	e.notFound(reg)
	// The same host passes (localhost registry, localhost realm).
	e.mustStore(e.registry, "alice", password)
	// So does a configured Portus server.
	e.config(map[string]any{"strict": true, "registries": map[string]any{reg: map[string]any{"portus": e.portus.URL()}}})
	e.mustStore(reg, "alice", password)
	e.noSecrets(errText(err))
}

func TestBadConfigDoesNotBreakGet(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	_, token := e.mustGet(e.registry)
	e.config(map[string]any{"strikt": true})

	h := e.helper()
	user, secret, err := h.Get(e.registry)
	if err != nil || user != "alice" || secret != token {
		t.Fatalf("get with a bad configuration file: %q, %v", user, err)
	}
	if m, err := h.List(); err != nil || !maps.Equal(m, map[string]string{e.registry: "alice"}) {
		t.Fatalf("list with a bad configuration file: %v, %v", m, err)
	}
	msg := e.stderr.String()
	for _, want := range []string{"warning", e.cfgPath, "strikt", "default settings"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	if strings.Count(msg, "warning") != 1 {
		t.Errorf("warned %d times in one process: %q", strings.Count(msg, "warning"), msg)
	}
	// Through the protocol, as docker pull calls it: credentials, no error.
	var out bytes.Buffer
	if err := credentials.HandleCommand(e.helper(), credentials.ActionGet, strings.NewReader(e.registry+"\n"), &out); err != nil ||
		!strings.Contains(out.String(), `"Username":"alice"`) {
		t.Fatalf("get via HandleCommand: %v, %q", err, out.String())
	}
	// store and erase still refuse, naming the file.
	for action, err := range map[string]error{
		"store": e.store(e.registry, "alice", password),
		"erase": e.helper().Delete(e.registry),
	} {
		if err == nil || !strings.Contains(err.Error(), e.cfgPath) || !strings.Contains(err.Error(), "fix the file") {
			t.Errorf("%s with a bad configuration file: %v", action, err)
		}
	}
	if _, s := e.mustGet(e.registry); s != token {
		t.Fatal("the stored token changed")
	}
}

// failingItemSet is a keyring that refuses to write credential items (but
// reads, deletes, and keeps its index).
type failingItemSet struct{ keychain.OSKeyring }

func (f failingItemSet) Set(service, user, secret string) error {
	if service == keychain.Service {
		return errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'")
	}
	return f.OSKeyring.Set(service, user, secret)
}

func TestFailedWriteAfterExchangeLeavesNoDeadToken(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	e.backend = failingItemSet{keychain.OSKeyring{SkipBusCheck: true}}
	err := e.store(e.registry, "alice", password)
	t.Logf("store error: %v", err)
	if !errors.Is(err, keychain.ErrLocked) {
		t.Fatalf("store with a keyring refusing writes: %v, want the keyring's cause", err)
	}
	for _, want := range []string{"login to " + e.registry + " did not complete", "revoked again", "no longer works",
		"removed from the keyring", "docker login " + e.registry} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	// The server replaced the old token and the new one was revoked: nothing
	// valid is left, and the keyring does not pretend otherwise.
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatalf("server tokens: %+v", toks)
	}
	e.notFound(e.registry)
	if got := e.list(); len(got) != 0 {
		t.Fatalf("list = %v", got)
	}
	e.noSecrets(err.Error())
}

func TestFailedWriteKeepsOtherCredentials(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "bob", "bob's password")
	_, bobs := e.mustGet(e.registry)
	e.backend = failingItemSet{keychain.OSKeyring{SkipBusCheck: true}}
	err := e.store(e.registry, "alice", password)
	if err == nil || !strings.Contains(err.Error(), "credentials stored before for "+e.registry+" are unchanged") {
		t.Fatalf("store: %v", err)
	}
	// bob's token was not replaced by alice's login: it still works and stays.
	if u, s := e.mustGet(e.registry); u != "bob" || s != bobs || len(e.portus.Tokens("bob")) != 1 {
		t.Fatal("bob's valid token was lost")
	}
	if len(e.portus.Tokens("alice")) != 0 {
		t.Fatal("alice's new token was not revoked")
	}
}

// TestRegistriesOfOnePortusShareToken: logins to two registries of one
// Portus server make tokens of the same name, so the second replaces the
// first on the server. Both registries then hold the live token, logging
// out of one leaves the other working, and logging out of the last one
// revokes it.
func TestRegistriesOfOnePortusShareToken(t *testing.T) {
	e := newEnv(t)
	other, bobs := "registry2.example.com", "registry3.example.com"
	e.config(map[string]any{"registries": map[string]any{
		other: map[string]any{"portus": e.portus.URL()},
		bobs:  map[string]any{"portus": e.portus.URL()},
	}})
	e.mustStore(e.registry, "alice", password)
	e.mustStore(other, "alice", password)
	e.mustStore(bobs, "bob", "bob's password")
	live := func(user string) []string {
		var out []string
		for _, tok := range e.portus.Tokens(user) {
			out = append(out, tok.Plain)
		}
		return out
	}
	_, first := e.mustGet(e.registry)
	_, second := e.mustGet(other)
	if toks := live("alice"); len(toks) != 1 || first != toks[0] || second != toks[0] {
		t.Fatalf("alice has %d live tokens; the registries hold %s and %s: want both to hold the one live token",
			len(toks), apptoken.Redact(first), apptoken.Redact(second))
	}
	if _, tok := e.mustGet(bobs); len(live("bob")) != 1 || tok != live("bob")[0] {
		t.Fatal("bob's token is not his live one")
	}

	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatal(err)
	}
	if toks := live("alice"); len(toks) != 1 || toks[0] != second {
		t.Fatal("logging out of one registry revoked the token the other still holds")
	}
	if err := e.helper().Delete(other); err != nil {
		t.Fatal(err)
	}
	if toks := live("alice"); len(toks) != 0 {
		t.Fatal("logging out of the last registry left the token valid")
	}
	if len(live("bob")) != 1 {
		t.Fatal("alice's logouts revoked bob's token")
	}
	e.noSecrets()
}

// TestConcurrentStoresTwoRegistriesOnePortus: two logins at once to two
// registries of one Portus server. The first one's token is created but its
// answer held back; the second login must not make its token meanwhile
// (that would revoke the first's), and both registries end with the token
// the server accepts.
func TestConcurrentStoresTwoRegistriesOnePortus(t *testing.T) {
	e := newEnv(t)
	other := "registry2.example.com"
	e.config(map[string]any{"registries": map[string]any{other: map[string]any{"portus": e.portus.URL()}}})
	firstCreated := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseA := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseA)
	e.portus.OnCreate(func(n int, _ fakeportus.Token) {
		if n == 1 {
			close(firstCreated)
			<-release
		}
	})
	errA := make(chan error, 1)
	go func() { errA <- e.store(e.registry, "alice", password) }()
	select {
	case <-firstCreated:
	case err := <-errA:
		t.Fatalf("login A ended before creating a token: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("login A created no token")
	}
	errB := make(chan error, 1)
	go func() { errB <- e.store(other, "alice", password) }()
	select {
	case err := <-errB:
		errB <- err
		t.Error("login B to another registry of the same Portus server made its token while login A was making one")
	case <-time.After(300 * time.Millisecond):
	}
	releaseA()
	for name, ch := range map[string]chan error{"A": errA, "B": errB} {
		if err := <-ch; err != nil {
			t.Errorf("login %s: %v", name, err)
		}
	}
	toks := e.portus.Tokens("alice")
	for _, reg := range []string{e.registry, other} {
		if _, tok := e.mustGet(reg); len(toks) != 1 || tok != toks[0].Plain {
			t.Errorf("%s holds %s; the server has %d live tokens: want the live one", reg, apptoken.Redact(tok), len(toks))
		}
	}
	if got := e.list(); !maps.Equal(got, map[string]string{e.registry: "alice", other: "alice"}) {
		t.Fatalf("list = %v", got)
	}
}
