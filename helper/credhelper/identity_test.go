package credhelper_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/shared/apptoken"
)

// What docker login hands store after a Portus server answered with a
// refresh_token: Username "<token>" and a login token.

func TestStorePortusIdentityTokenAndEraseRevokesIt(t *testing.T) {
	e := newEnv(t)
	identity := e.portus.IssueLoginToken("alice")
	e.mustStore(e.registry, "<token>", identity)
	if _, creates, _ := e.portus.Counts(); creates != 0 {
		t.Fatalf("storing an identity token created %d tokens", creates)
	}
	// The owner, learnt from the server: docker login HOST (no -u) reuses
	// stored credentials only with a username and a password.
	if u, s := e.mustGet(e.registry); u != "alice" || s != identity {
		t.Fatalf("get = %q, %s: want the token's owner and the identity token", u, apptoken.Redact(s))
	}
	// docker login without -u stores back what get returned.
	before := e.apiRequests()
	e.mustStore(e.registry, "alice", identity)
	if e.apiRequests() != before {
		t.Fatal("storing the stored identity token again talked to the server")
	}
	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatal(err)
	}
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatalf("erase left %d tokens on the server, want the identity token revoked (Bearer)", len(toks))
	}
	e.notFound(e.registry)
	if e.stderr.String() != "" {
		t.Fatalf("store and erase printed %q", e.stderr)
	}
	e.noSecrets()
}

func TestStoreIdentityTokenWithConfiguredPortus(t *testing.T) {
	e := newEnv(t)
	e.config(map[string]any{"registries": map[string]any{"registry.example.com": map[string]any{"portus": e.portus.URL()}}})
	identity := e.portus.IssueLoginToken("alice")
	e.mustStore("registry.example.com", "<token>", identity)
	if e.portus.Probes() != 0 {
		t.Fatal("a configured Portus server was looked up at the registry")
	}
	if err := e.helper().Delete("registry.example.com"); err != nil {
		t.Fatal(err)
	}
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatal("the identity token was not revoked at the configured server")
	}
}

func TestStoreIdentityTokenReplacesAndRevokes(t *testing.T) {
	e := newEnv(t)
	// A password login through the helper's own exchange, then docker
	// login with identity tokens, twice: each replaced token is revoked,
	// and only the last one is left.
	e.mustStore(e.registry, "alice", password)
	first := e.portus.IssueLoginToken("alice")
	e.mustStore(e.registry, "<token>", first)
	second := e.portus.IssueLoginToken("alice")
	e.mustStore(e.registry, "<token>", second)
	toks := e.portus.Tokens("alice")
	if len(toks) != 1 || toks[0].Plain != second {
		t.Fatalf("the server holds %d tokens, want only the last identity token", len(toks))
	}
	e.noSecrets()
}

func TestStoreIdentityTokenOfUnknownServer(t *testing.T) {
	e := newEnv(t)
	plain := fakeportus.Registry(t, http.StatusOK, "")
	identity := e.portus.IssueLoginToken("alice")
	// docker login has succeeded already: the token is kept, with a warning.
	e.mustStore(plain, "<token>", identity)
	msg := e.stderr.String()
	for _, want := range []string{"warning", "could not be found", "will not revoke", apptoken.Redact(identity)} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	if _, s := e.mustGet(plain); s != identity {
		t.Fatal("the identity token was not kept")
	}
	before := e.apiRequests()
	if err := e.helper().Delete(plain); err != nil {
		t.Fatal(err)
	}
	if e.apiRequests() != before {
		t.Fatal("erase of a token of no known server talked to a server")
	}
	e.notFound(plain)
	e.noSecrets()
}

func TestEraseIdentityTokenWithPortusUnreachable(t *testing.T) {
	e := newEnv(t)
	identity := e.portus.IssueLoginToken("alice")
	e.mustStore(e.registry, "<token>", identity)
	e.portus.Portus.Close()
	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatalf("erase with the server down: %v", err)
	}
	e.notFound(e.registry)
	msg := e.stderr.String()
	for _, want := range []string{"warning: could not revoke", "identity token of docker login", apptoken.Redact(identity),
		"remains valid", e.portus.URL() + "/profile"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "<token>") {
		t.Errorf("the warning names the placeholder username as an owner: %q", msg)
	}
	e.noSecrets()
}

func TestStoreIdentityTokenKeyringRefuses(t *testing.T) {
	e := newEnv(t)
	e.backend = failingItemSet{keychain.OSKeyring{SkipBusCheck: true}}
	identity := e.portus.IssueLoginToken("alice")
	err := e.store(e.registry, "<token>", identity)
	if err == nil || !strings.Contains(err.Error(), "did not complete") || !strings.Contains(err.Error(), "revoked again") {
		t.Fatalf("store with a keyring that refuses: %v", err)
	}
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatal("the identity token nobody holds was not revoked")
	}
	e.noSecrets(errText(err))
}

// An owner the server does not tell leaves docker's "<token>": docker then
// refreshes with the token, and only a bare docker login would prompt.
func TestStoreIdentityTokenOwnerUnknown(t *testing.T) {
	e := newEnv(t)
	unknown, err := apptoken.New()
	if err != nil {
		t.Fatal(err)
	}
	e.mustStore(e.registry, "<token>", unknown)
	if u, s := e.mustGet(e.registry); u != "<token>" || s != unknown {
		t.Fatalf("get = %q, %s: want <token> and the identity token", u, apptoken.Redact(s))
	}
	if e.stderr.String() != "" {
		t.Fatalf("store printed %q", e.stderr)
	}
	e.noSecrets()
}
