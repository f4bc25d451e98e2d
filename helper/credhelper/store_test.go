package credhelper_test

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
	"github.com/zalando/go-keyring"
)

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
	issued, _ := rec["issued_at"].(string)
	if at, err := time.Parse(time.RFC3339Nano, issued); err != nil || time.Since(at) > time.Minute || time.Since(at) < 0 {
		t.Errorf("keyring record issued_at %q: want the time of the store (for rotate_after)", issued)
	}
	delete(rec, "issued_at")
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

// failingItemSet is a keyring that refuses to write credential items (but
// reads, deletes, and keeps its index).
type failingItemSet struct{ keychain.OSKeyring }

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
