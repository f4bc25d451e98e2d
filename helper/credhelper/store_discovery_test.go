package credhelper_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apptoken"
)

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
	e.stderr = &testutil.LockedBuffer{}
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
