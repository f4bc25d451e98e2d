package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

func TestCreateTokenAnswer(t *testing.T) {
	s := start(t, testserver.Options{})
	r := s.Expect(http.StatusCreated, "POST", "/api/v1/tokens", apitypes.CreateTokenRequest{Name: "laptop", Scope: "pull"}, basic("alice", alicePW))
	var raw map[string]any
	testserver.Decode(t, r, &raw)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	})
	if want := []string{"created_at", "expires_at", "id", "name", "scope", "token"}; !slices.Equal(keys, want) {
		t.Errorf("creation answer has keys %v, want %v", keys, want)
	}
	var c apitypes.CreatedToken
	testserver.Decode(t, r, &c)
	if !apptoken.Valid(c.Token) || c.Name != "laptop" || c.Scope != "pull" || c.ExpiresAt != nil || !c.CreatedAt.Equal(s.Clock.Now()) {
		t.Errorf("created %+v", c)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	// Default scope is push; created_via is api, or helper when asked.
	d := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "ci", CreatedVia: "helper"})
	if d.Scope != "push" {
		t.Errorf("default scope %q", d.Scope)
	}
	s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "web?", CreatedVia: "web"})
	var list []apitypes.Token
	testserver.Decode(t, s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", alicePW)), &list)
	via := map[string]string{}
	for _, l := range list {
		via[l.Name] = l.CreatedVia
	}
	if via["laptop"] != "api" || via["ci"] != "helper" || via["web?"] != "api" {
		t.Errorf("created_via = %v, want laptop:api ci:helper web?:api", via)
	}
}

// TestPlaintextNeverStored scans the bbolt file for every token created,
// whole and its random part, in the encodings a careless store might use.
func TestPlaintextNeverStored(t *testing.T) {
	s := start(t, testserver.Options{})
	var created []apitypes.CreatedToken
	for _, n := range []string{"laptop", "ci", "desktop"} {
		created = append(created, s.CreateToken("alice", alicePW, tokenReq(n)))
	}
	var forBob apitypes.CreatedToken
	testserver.Decode(t, s.Expect(201, "POST", "/api/v1/users/bob/tokens", tokenReq("admin-made"), basic("root", rootPW)), &forBob)
	created = append(created, forBob, s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "laptop", Replace: true}))
	// Use them, so that last-used times are written too.
	for _, c := range created[1:] {
		owner := "alice"
		if c.Name == "admin-made" {
			owner = "bob"
		}
		s.Expect(200, "GET", "/api/v1/tokens", nil, basic(owner, c.Token))
	}
	hashes := map[string][]byte{}
	for _, c := range created {
		hashes[c.Token] = s.Core.Accounts.TokenHash(c.Token)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := s.DBBytes()
	for i, c := range created {
		random := c.Token[len(apptoken.Prefix) : len(apptoken.Prefix)+apptoken.RandomLen]
		for what, needle := range map[string]string{
			"token":             c.Token,
			"random part":       random,
			"base64 token":      base64.StdEncoding.EncodeToString([]byte(c.Token)),
			"hex token":         hex.EncodeToString([]byte(c.Token)),
			"base64 random":     base64.StdEncoding.EncodeToString([]byte(random))[:40],
			"first 16 of token": c.Token[:20],
		} {
			if bytes.Contains(db, []byte(needle)) {
				t.Errorf("token %d (%s): the database file contains its %s", i, c.Name, what)
			}
		}
		// The replaced "laptop" token (index 0) is deleted with its hash;
		// the others are stored as their HMAC, which is the lookup key.
		if i > 0 && !bytes.Contains(db, hashes[c.Token]) {
			t.Errorf("token %d (%s): its HMAC is not in the database file", i, c.Name)
		}
	}
	for _, pw := range []string{rootPW, alicePW, bobPW} {
		if bytes.Contains(db, []byte(pw)) {
			t.Errorf("the database file contains the password %q", pw)
		}
	}
	if !bytes.Contains(db, []byte("$argon2id$v=19$")) {
		t.Error("no argon2id hash in the database file")
	}
}

func TestConcurrentCreatesYieldExactlyTheLimit(t *testing.T) {
	for _, c := range []struct{ max, n int }{{0, 50}, {3, 20}} {
		limit := c.max
		if limit == 0 {
			limit = 5
		}
		t.Run(fmt.Sprintf("max%d", limit), func(t *testing.T) {
			s := start(t, testserver.Options{MaxTokens: c.max})
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				statuses = map[int]int{}
				messages = map[string]int{}
			)
			for i := 0; i < c.n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := s.Request("POST", "/api/v1/tokens", tokenReq(fmt.Sprintf("machine-%02d", i)), basic("alice", alicePW))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("request %d: %v", i, err)
						return
					}
					statuses[r.Status]++
					if r.Status != http.StatusCreated {
						messages[r.Message()]++
					}
				}()
			}
			wg.Wait()
			if statuses[201] != limit || statuses[422] != c.n-limit || len(statuses) != 2 {
				t.Fatalf("statuses %v, want %d×201 and %d×422", statuses, limit, c.n-limit)
			}
			want := fmt.Sprintf("users cannot have more than %d application tokens", limit)
			for m := range messages {
				if !strings.HasPrefix(m, want) {
					t.Errorf("422 message %q does not start with %q", m, want)
				}
			}
			var list []apitypes.Token
			testserver.Decode(t, s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", alicePW)), &list)
			if len(list) != limit {
				t.Errorf("alice holds %d tokens, want %d", len(list), limit)
			}
			// The limit is per user.
			s.CreateToken("bob", bobPW, tokenReq("machine-00"))
		})
	}
}

func TestDuplicateNames(t *testing.T) {
	s := start(t, testserver.Options{})
	s.CreateToken("alice", alicePW, tokenReq("laptop"))
	r := s.Expect(http.StatusConflict, "POST", "/api/v1/tokens", tokenReq("laptop"), basic("alice", alicePW))
	if !strings.Contains(r.Message(), "already have a token with this name") {
		t.Errorf("409 message %q", r.Message())
	}
	// Names are unique per owner only.
	s.CreateToken("bob", bobPW, tokenReq("laptop"))
	// A name differing in case or spacing is another name.
	s.CreateToken("alice", alicePW, tokenReq("Laptop"))
	s.CreateToken("alice", alicePW, tokenReq("laptop "))
}

func TestNoTokensForAnotherUser(t *testing.T) {
	s := start(t, testserver.Options{})
	bobs := s.CreateToken("bob", bobPW, tokenReq("laptop"))
	alice := basic("alice", alicePW)
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/users/bob/tokens"},
		{"GET", "/api/v1/users/bob/tokens"},
		{"DELETE", "/api/v1/users/bob/tokens/" + bobs.ID},
	} {
		var body any
		if c.method == "POST" {
			body = tokenReq("sneaky")
		}
		r := s.Do(c.method, c.path, body, alice)
		if r.Status != http.StatusForbidden {
			t.Errorf("alice %s %s = %s, want 403", c.method, c.path, r)
		}
	}
	// Revoking bob's token id through her own endpoint finds nothing.
	s.Expect(http.StatusNotFound, "DELETE", "/api/v1/tokens/"+bobs.ID, nil, alice)
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("bob", bobs.Token))
	var bobList []apitypes.Token
	testserver.Decode(t, s.Expect(200, "GET", "/api/v1/users/bob/tokens", nil, basic("root", rootPW)), &bobList)
	if len(bobList) != 1 || bobList[0].Name != "laptop" {
		t.Errorf("bob's tokens as seen by root: %+v", bobList)
	}
	// Her own user path works.
	s.Expect(201, "POST", "/api/v1/users/alice/tokens", tokenReq("own"), alice)
	s.Expect(200, "GET", "/api/v1/users/alice/tokens", nil, alice)

	// An administrator can do all of it.
	root := basic("root", rootPW)
	var made apitypes.CreatedToken
	testserver.Decode(t, s.Expect(201, "POST", "/api/v1/users/bob/tokens", tokenReq("by-root"), root), &made)
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("bob", made.Token))
	s.Expect(204, "DELETE", "/api/v1/users/bob/tokens/"+bobs.ID, nil, root)
	want401(t, "bob's token revoked by root", s.Do("GET", "/api/v1/tokens", nil, basic("bob", bobs.Token)))
	s.Expect(404, "GET", "/api/v1/users/nobody/tokens", nil, root)
	s.Expect(404, "POST", "/api/v1/users/nobody/tokens", tokenReq("x"), root)
}

func TestListWithoutSecrets(t *testing.T) {
	s := start(t, testserver.Options{})
	exp := s.Clock.Now().Add(48 * time.Hour)
	a := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "laptop", Scope: "delete", ExpiresAt: &exp})
	b := s.CreateToken("alice", alicePW, tokenReq("ci"))
	for _, auth := range []testserver.Opt{basic("alice", alicePW), basic("alice", b.Token), pauth("alice", a.Token)} {
		r := s.Expect(200, "GET", "/api/v1/tokens", nil, auth)
		var raw []map[string]json.RawMessage
		testserver.Decode(t, r, &raw)
		if len(raw) != 2 {
			t.Fatalf("list has %d entries: %s", len(raw), r)
		}
		for _, e := range raw {
			var keys []string
			for k := range e {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if want := []string{"created_at", "created_via", "expired", "expires_at", "expires_soon", "id", "kind", "last_used_addr", "last_used_at", "last_used_client", "name", "scope"}; !slices.Equal(keys, want) {
				t.Errorf("list entry has keys %v, want %v", keys, want)
			}
		}
		for _, tok := range []string{a.Token, b.Token} {
			hash := s.Core.Accounts.TokenHash(tok)
			for _, needle := range []string{tok, tok[4:36], base64.StdEncoding.EncodeToString(hash), hex.EncodeToString(hash)} {
				if bytes.Contains(r.Body, []byte(needle)) {
					t.Errorf("the token list contains a secret or its hash")
				}
			}
		}
		var list []apitypes.Token
		testserver.Decode(t, r, &list)
		i := slices.IndexFunc(list, func(l apitypes.Token) bool { return l.ID == a.ID })
		if i < 0 || list[i].Name != "laptop" || list[i].Scope != "delete" || list[i].ExpiresAt == nil || !list[i].ExpiresAt.Equal(exp) {
			t.Errorf("list %+v lacks laptop (delete, expiring %v)", list, exp)
		}
	}
}

func TestRevokeCurrentToken(t *testing.T) {
	for _, c := range []struct {
		name string
		auth func(user, tok string) testserver.Opt
	}{{"basic", basic}, {"portus-auth", pauth}} {
		t.Run(c.name, func(t *testing.T) {
			s := start(t, testserver.Options{})
			tok := s.CreateToken("alice", alicePW, tokenReq("laptop"))
			other := s.CreateToken("alice", alicePW, tokenReq("desktop"))
			s.Expect(200, "GET", "/api/v1/tokens", nil, c.auth("alice", tok.Token))
			s.Expect(http.StatusNoContent, "DELETE", "/api/v1/tokens/current", nil, c.auth("alice", tok.Token))
			want401(t, "the revoked token", s.Do("GET", "/api/v1/tokens", nil, c.auth("alice", tok.Token)))
			want401(t, "the revoked token again", s.Do("DELETE", "/api/v1/tokens/current", nil, c.auth("alice", tok.Token)))
			// Only that token is gone.
			var list []apitypes.Token
			testserver.Decode(t, s.Expect(200, "GET", "/api/v1/tokens", nil, c.auth("alice", other.Token)), &list)
			if len(list) != 1 || list[0].ID != other.ID {
				t.Errorf("tokens left: %+v", list)
			}
		})
	}
	t.Run("password", func(t *testing.T) {
		s := start(t, testserver.Options{})
		s.CreateToken("alice", alicePW, tokenReq("laptop"))
		r := s.Expect(http.StatusBadRequest, "DELETE", "/api/v1/tokens/current", nil, basic("alice", alicePW))
		if !strings.Contains(r.Message(), "application token") {
			t.Errorf("400 message %q", r.Message())
		}
		want401(t, "no credentials", s.Do("DELETE", "/api/v1/tokens/current", nil))
	})
}

func TestTokenRevokesOnlyItself(t *testing.T) {
	s := start(t, testserver.Options{})
	a := s.CreateToken("alice", alicePW, tokenReq("a"))
	b := s.CreateToken("alice", alicePW, tokenReq("b"))
	r := s.Expect(http.StatusForbidden, "DELETE", "/api/v1/tokens/"+b.ID, nil, basic("alice", a.Token))
	if !strings.Contains(r.Message(), "only revoke itself") {
		t.Errorf("403 message %q", r.Message())
	}
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", b.Token))
	s.Expect(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+a.ID, nil, basic("alice", a.Token))
	want401(t, "self-revoked token", s.Do("GET", "/api/v1/tokens", nil, basic("alice", a.Token)))
	// The password can revoke any of the caller's tokens.
	s.Expect(http.StatusNoContent, "DELETE", "/api/v1/tokens/"+b.ID, nil, basic("alice", alicePW))
	want401(t, "token revoked with the password", s.Do("GET", "/api/v1/tokens", nil, basic("alice", b.Token)))
	s.Expect(http.StatusNotFound, "DELETE", "/api/v1/tokens/"+b.ID, nil, basic("alice", alicePW))
}

func TestRevokedExpiredDisabledTokensFail(t *testing.T) {
	s := start(t, testserver.Options{})
	root := basic("root", rootPW)

	revoked := s.CreateToken("alice", alicePW, tokenReq("revoked"))
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", revoked.Token))
	s.Expect(204, "DELETE", "/api/v1/tokens/"+revoked.ID, nil, basic("alice", alicePW))
	want401(t, "revoked token", s.Do("GET", "/api/v1/tokens", nil, basic("alice", revoked.Token)))

	exp := s.Clock.Now().Add(30 * time.Second)
	expiring := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "expiring", ExpiresAt: &exp})
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", expiring.Token))
	s.Clock.Advance(30 * time.Second)
	want401(t, "expired token", s.Do("GET", "/api/v1/tokens", nil, basic("alice", expiring.Token)))
	want401(t, "expired token, Portus-Auth", s.Do("GET", "/api/v1/tokens", nil, pauth("alice", expiring.Token)))

	live := s.CreateToken("alice", alicePW, tokenReq("live"))
	s.Expect(200, "PATCH", "/api/v1/users/alice", `{"disabled":true}`, root)
	want401(t, "token of a disabled user", s.Do("GET", "/api/v1/tokens", nil, basic("alice", live.Token)))
	want401(t, "token of a disabled user, Portus-Auth", s.Do("GET", "/api/v1/tokens", nil, pauth("alice", live.Token)))
	s.CoolDown() // 5 failures from 127.0.0.1 so far: wait out the IP backoff
	want401(t, "password of a disabled user", s.Do("GET", "/api/v1/tokens", nil, basic("alice", alicePW)))
	s.CoolDown()
	var u apitypes.User
	testserver.Decode(t, s.Expect(200, "GET", "/api/v1/users/alice", nil, root), &u)
	if !u.Disabled {
		t.Errorf("alice after disabling: %+v", u)
	}
	s.Expect(200, "PATCH", "/api/v1/users/alice", `{"disabled":false}`, root)
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", live.Token))
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", alicePW))
	// Revoked and expired tokens stay dead.
	want401(t, "expired token after the rest", s.Do("GET", "/api/v1/tokens", nil, basic("alice", expiring.Token)))
}

func TestTokenCannotCreateTokensOrAdminister(t *testing.T) {
	s := start(t, testserver.Options{})
	tok := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	var rootTok apitypes.CreatedToken
	testserver.Decode(t, s.Expect(201, "POST", "/api/v1/tokens", tokenReq("root-laptop"), basic("root", rootPW)), &rootTok)
	for _, c := range []struct {
		method, path string
		body         any
		auth         testserver.Opt
	}{
		{"POST", "/api/v1/tokens", tokenReq("more"), basic("alice", tok.Token)},
		{"POST", "/api/v1/tokens", tokenReq("more"), pauth("alice", tok.Token)},
		{"POST", "/api/v1/users/alice/tokens", tokenReq("more"), basic("alice", tok.Token)},
		{"GET", "/api/v1/users/alice/tokens", nil, basic("alice", tok.Token)},
		{"POST", "/api/v1/tokens", tokenReq("more"), basic("root", rootTok.Token)},
		{"GET", "/api/v1/users", nil, basic("root", rootTok.Token)},
		{"POST", "/api/v1/users", apitypes.CreateUserRequest{Name: "mallory", Password: "mallory-pw-1"}, basic("root", rootTok.Token)},
		{"PATCH", "/api/v1/users/alice", `{"admin":true}`, basic("root", rootTok.Token)},
		{"GET", "/api/v1/users/bob/tokens", nil, pauth("root", rootTok.Token)},
		{"DELETE", "/api/v1/users/alice/tokens/" + tok.ID, nil, basic("root", rootTok.Token)},
	} {
		if r := s.Do(c.method, c.path, c.body, c.auth); r.Status != http.StatusForbidden {
			t.Errorf("%s %s with a token = %s, want 403", c.method, c.path, r)
		}
	}
	var list []apitypes.Token
	testserver.Decode(t, s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", alicePW)), &list)
	if len(list) != 1 {
		t.Errorf("alice holds %d tokens, want 1", len(list))
	}
	s.Expect(404, "GET", "/api/v1/users/mallory", nil, basic("root", rootPW))
	// Portus-Auth carries tokens only, never a password.
	want401(t, "password in Portus-Auth", s.Do("GET", "/api/v1/tokens", nil, pauth("alice", alicePW)))
	// A non-admin with the password is no admin either.
	s.Expect(403, "GET", "/api/v1/users", nil, basic("alice", alicePW))
	s.Expect(403, "PATCH", "/api/v1/users/alice", `{"admin":true}`, basic("alice", alicePW))
}

func TestReplace(t *testing.T) {
	s := start(t, testserver.Options{})
	old := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	for i := 0; i < 4; i++ {
		s.CreateToken("alice", alicePW, tokenReq(fmt.Sprintf("other-%d", i)))
	}
	// At the limit, replacing frees the replaced token's slot.
	fresh := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "laptop", Replace: true, CreatedVia: "helper"})
	want401(t, "replaced token", s.Do("GET", "/api/v1/tokens", nil, basic("alice", old.Token)))
	var list []apitypes.Token
	testserver.Decode(t, s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", fresh.Token)), &list)
	n := 0
	for _, l := range list {
		if l.Name == "laptop" {
			n++
			if l.ID != fresh.ID {
				t.Errorf("laptop is %s, want the new %s", l.ID, fresh.ID)
			}
		}
	}
	if n != 1 || len(list) != 5 {
		t.Errorf("%d tokens named laptop among %d, want 1 among 5", n, len(list))
	}
	// Replace with a new name is a plain create, and still bound by the limit.
	r := s.Expect(422, "POST", "/api/v1/tokens", apitypes.CreateTokenRequest{Name: "new", Replace: true}, basic("alice", alicePW))
	if !strings.HasPrefix(r.Message(), "users cannot have more than 5 application tokens") {
		t.Errorf("422 message %q", r.Message())
	}
}

func TestLastUsedOverHTTP(t *testing.T) {
	s := start(t, testserver.Options{})
	tok := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	s.Clock.Advance(time.Hour)
	used := s.Clock.Now()
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", tok.Token))
	s.Clock.Advance(time.Hour)
	var list []apitypes.Token
	testserver.Decode(t, s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", alicePW)), &list)
	if list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(used) {
		t.Fatalf("last_used_at %v, want %v", list[0].LastUsedAt, used)
	}
	// Closing flushes the batch: it survives a restart.
	s2 := s.Reopen()
	testserver.Decode(t, s2.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", alicePW)), &list)
	if list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(used) {
		t.Fatalf("after a restart last_used_at %v, want %v", list[0].LastUsedAt, used)
	}
}

// TestSecretTypedAsUsernameNotStored: a client that sends its token (or
// its password) in the username field must not get it written to the
// database by the audit log of the failure.
func TestSecretTypedAsUsernameNotStored(t *testing.T) {
	s := start(t, testserver.Options{})
	tok := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	s.Expect(401, "GET", "/api/v1/tokens", nil, basic(tok.Token, tok.Token))
	s.CoolDown()
	s.Expect(401, "GET", "/api/v1/tokens", nil, pauth(tok.Token, tok.Token))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := s.DBBytes()
	random := tok.Token[len(apptoken.Prefix) : len(apptoken.Prefix)+apptoken.RandomLen]
	if bytes.Contains(db, []byte(random)) {
		t.Error("the database file contains a live token that was sent as the username")
	}
}

// TestDefaultPasswordParams runs the HTTP path on the real (OWASP) argon2id
// costs once.
func TestDefaultPasswordParams(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DefaultParams: true})
	s.AddUser("root", rootPW, true)
	s.Expect(201, "POST", "/api/v1/users", apitypes.CreateUserRequest{Name: "dora", Password: "dora-password-1"}, basic("root", rootPW))
	u, err := s.Core.Store.User("dora")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("stored hash %q", u.PasswordHash)
	}
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("dora", "dora-password-1"))
	want401(t, "wrong password", s.Do("GET", "/api/v1/tokens", nil, basic("dora", "dora-password-2")))
}

// TestCreateTokenExpiryCap: the API caps expires_at at ten years, as the
// web form does, and names the bound.
func TestCreateTokenExpiryCap(t *testing.T) {
	s := start(t, testserver.Options{})
	now := s.Clock.Now()
	for _, far := range []string{"9999-12-31T23:59:59Z", now.AddDate(10, 0, 2).Format(time.RFC3339)} {
		r := s.Do("POST", "/api/v1/tokens", `{"name":"forever","expires_at":"`+far+`"}`, basic("alice", alicePW))
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Message(), "expires_at: must be within 3650 days (10 years)") {
			t.Errorf("expires_at %s: %s, want 400 naming the maximum", far, r)
		}
	}
	at := now.AddDate(9, 0, 0)
	c := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "nine-years", ExpiresAt: &at})
	if c.ExpiresAt == nil || !c.ExpiresAt.Equal(at) {
		t.Errorf("nine years: expires_at %v, want %v", c.ExpiresAt, at)
	}
	edge := now.Add(3650 * 24 * time.Hour)
	s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "edge", ExpiresAt: &edge})
}
