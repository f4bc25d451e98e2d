package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// TestRegistryTokenAccountMismatch: the account parameter must name the
// authenticated user exactly, whatever the credential; a mismatch is a 400
// that issues no JWT, and what the client sent comes back escaped (docker
// prints "details" to a terminal, and a malicious registry chooses the
// service parameter docker sends).
func TestRegistryTokenAccountMismatch(t *testing.T) {
	f := newRegistryFixture(t)
	bobTok := func() string {
		f.AddUser("bob", "bob-password", false)
		return f.CreateToken("bob", "bob-password", apitypes.CreateTokenRequest{Name: "ci", Scope: "pull"}).Token
	}()
	path := func(account string) string {
		return tokenPath("repository:alice/app:pull") + "&" + url.Values{"account": {account}}.Encode()
	}
	alicePw, aliceTok := testserver.Basic("alice", "alice-password"), testserver.Basic("alice", f.push)
	for _, c := range []struct {
		name    string
		account string
		auth    testserver.Opt
		status  int
	}{
		{"own name, password", "alice", alicePw, 200},
		{"own name, token", "alice", aliceTok, 200},
		{"another user, password", "bob", alicePw, 400},
		{"another user, token", "bob", aliceTok, 400},
		{"another user's token naming its owner", "bob", testserver.Basic("alice", bobTok), 401},
		{"own name in capitals", "Alice", aliceTok, 400},
		{"own name with a trailing space", "alice ", aliceTok, 400},
		{"own name with a newline", "alice\n", aliceTok, 400},
		{"own name with a NUL", "alice\x00", aliceTok, 400},
		{"look-alike (Cyrillic a)", "\u0430lice", aliceTok, 400},
		{"terminal escape", "\x1b[2J\x1b[31mroot", aliceTok, 400},
		{"10 000 characters", strings.Repeat("a", 10000), aliceTok, 400},
		{"administrator's name", "root", aliceTok, 400},
		{"anonymous naming a user", "alice", nil, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts []testserver.Opt
			if c.auth != nil {
				opts = append(opts, c.auth)
			}
			r := f.Do(http.MethodGet, path(c.account), nil, opts...)
			if r.Status != c.status {
				t.Fatalf("%s, want %d", r, c.status)
			}
			if c.status == 200 {
				return
			}
			if strings.Contains(string(r.Body), `"token"`) {
				t.Errorf("a refused request got a token: %s", r)
			}
			if c.status == 400 && !strings.Contains(r.Message(), "does not match the signed-in user") {
				t.Errorf("message %q", r.Message())
			}
			assertPrintable(t, r.Message())
			if len(r.Message()) > 300 {
				t.Errorf("message of %d bytes echoes the whole input", len(r.Message()))
			}
		})
	}
	f.CoolDown()
}

// TestRegistryTokenEchoesEscaped: every parameter the token endpoint
// echoes in an error comes back with control characters escaped.
func TestRegistryTokenEchoesEscaped(t *testing.T) {
	f := newRegistryFixture(t)
	for _, path := range []string{
		"/v2/token?" + url.Values{"service": {"evil\x1b]0;pwned\x07\r\nregistry"}}.Encode(),
		"/v2/token?" + url.Values{"service": {"registry"}, "scope": {"repository:\x1b[31malice/app:pull"}}.Encode(),
		"/v2/token?" + url.Values{"service": {strings.Repeat("\u202e", 200)}}.Encode(),
	} {
		r := f.Expect(http.StatusBadRequest, http.MethodGet, path, nil, testserver.Basic("alice", f.pull))
		assertPrintable(t, r.Message())
	}
}

// assertPrintable fails on control and bidirectional-override characters.
func assertPrintable(t *testing.T, msg string) {
	t.Helper()
	for _, r := range msg {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == unicode.ReplacementChar {
			t.Errorf("message %q holds the raw character %U", msg, r)
			return
		}
	}
}
