package account

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apptoken"
)

func TestNewRejectsShortPepper(t *testing.T) {
	if _, err := New(nil, Options{Pepper: make([]byte, 31)}); err == nil {
		t.Fatal("New accepted a 31-byte pepper")
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	f.user(t, "bob", "bob-password", false)
	_, aliceTok := f.token(t, "alice", "laptop")
	_, bobTok := f.token(t, "bob", "laptop")
	forged, _ := apptoken.New()
	typo := []byte(aliceTok)
	typo[10] ^= 1 // still base62; the checksum no longer fits
	malformed := string(typo)

	p, err := f.svc.Authenticate("alice", "alice-password", "")
	if err != nil || p.User.Name != "alice" || p.Token != nil {
		t.Fatalf("password: %+v, %v", p, err)
	}
	p, err = f.svc.Authenticate("alice", aliceTok, "")
	if err != nil || p.User.Name != "alice" || p.Token == nil || p.Token.Name != "laptop" {
		t.Fatalf("token: %+v, %v", p, err)
	}
	for _, c := range []struct{ name, user, secret string }{
		{"unknown user", "carol", "alice-password"},
		{"wrong password", "alice", "bob-password"},
		{"empty password", "alice", ""},
		{"another user's token", "alice", bobTok},
		{"unknown token", "alice", forged},
		{"token with a typo", "alice", malformed},
		{"token as a username", aliceTok, aliceTok},
	} {
		if _, err := f.svc.Authenticate(c.user, c.secret, ""); err != ErrAuthFailed {
			t.Errorf("%s: %v, want ErrAuthFailed", c.name, err)
		}
		f.clock.Advance(11 * time.Minute)
	}
	// A token is never taken as a password, even for the password path.
	if _, err := f.svc.AuthenticatePassword("alice", aliceTok, ""); err != ErrAuthFailed {
		t.Errorf("token on the password path: %v", err)
	}
}

func TestDisabledUserFailsAtOnce(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	_, tok := f.token(t, "alice", "laptop")
	yes, no := true, false
	if _, err := f.svc.UpdateUser(Actor{Name: "admin"}, "alice", UserChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate("alice", tok, ""); err != ErrAuthFailed {
		t.Errorf("token of a disabled user: %v", err)
	}
	if _, err := f.svc.Authenticate("alice", "alice-password", ""); err != ErrAuthFailed {
		t.Errorf("password of a disabled user: %v", err)
	}
	if _, err := f.svc.UpdateUser(Actor{Name: "admin"}, "alice", UserChange{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate("alice", tok, ""); err != nil {
		t.Errorf("token after re-enabling: %v", err)
	}
	if _, err := f.svc.UpdateUser(Actor{Name: "admin"}, "nobody", UserChange{Disabled: &yes}); err != ErrNotFound {
		t.Errorf("disabling an unknown user: %v", err)
	}
}

func TestTokenExpiry(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	past := f.clock.Now().Add(-time.Second)
	_, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "old", ExpiresAt: &past})
	if fieldOf(t, err) != "expires_at" {
		t.Errorf("expiry in the past: %v", err)
	}
	now := f.clock.Now()
	if _, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "now", ExpiresAt: &now}); err == nil {
		t.Error("expiry equal to now was accepted")
	}
	at := f.clock.Now().Add(time.Hour)
	c, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "ci", ExpiresAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour - time.Second)
	if _, err := f.svc.AuthenticateToken("alice", c.Token, ""); err != nil {
		t.Fatalf("1 s before expiry: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.svc.AuthenticateToken("alice", c.Token, ""); err != ErrAuthFailed {
		t.Fatalf("at expiry: %v", err)
	}
}

func TestCreateTokenRules(t *testing.T) {
	f := newFixture(t, Options{MaxTokens: 3})
	f.user(t, "alice", "alice-password", false)
	f.user(t, "bob", "bob-password", false)
	a := Actor{Name: "alice"}

	c, err := f.svc.CreateToken(a, "alice", NewToken{Name: "laptop", Via: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Scope != "push" || !apptoken.Valid(c.Token) || c.ID == "" || !c.CreatedAt.Equal(f.clock.Now()) {
		t.Errorf("created %+v", c)
	}
	if _, err := f.svc.CreateToken(a, "alice", NewToken{Name: "laptop"}); err != ErrNameTaken {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := f.svc.CreateToken(Actor{Name: "bob"}, "bob", NewToken{Name: "laptop"}); err != nil {
		t.Errorf("same name for another user: %v", err)
	}
	if _, err := f.svc.CreateToken(a, "nobody", NewToken{Name: "x"}); err != ErrNotFound {
		t.Errorf("token for an unknown user: %v", err)
	}
	if _, err := f.svc.CreateToken(a, "alice", NewToken{Name: "x", Scope: "admin"}); fieldOf(t, err) != "scope" {
		t.Errorf("bad scope: %v", err)
	}
	if _, err := f.svc.CreateToken(a, "alice", NewToken{Name: strings.Repeat("x", 65)}); fieldOf(t, err) != "name" {
		t.Errorf("long name: %v", err)
	}
	for _, n := range []string{"b", "c"} {
		if _, err := f.svc.CreateToken(a, "alice", NewToken{Name: n, Scope: "pull"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.svc.CreateToken(a, "alice", NewToken{Name: "d"})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != 3 || err.Error() != "users cannot have more than 3 application tokens" {
		t.Errorf("4th token with MaxTokens 3: %v", err)
	}
	if f.svc.MaxTokens() != 3 {
		t.Errorf("MaxTokens = %d", f.svc.MaxTokens())
	}
}

func TestReplaceRevokesTheOldToken(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	a := Actor{Name: "alice"}
	_, old := f.token(t, "alice", "laptop")
	c, err := f.svc.CreateToken(a, "alice", NewToken{Name: "laptop", Replace: true, Via: "helper"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateToken("alice", old, ""); err != ErrAuthFailed {
		t.Errorf("replaced token: %v", err)
	}
	if _, err := f.svc.AuthenticateToken("alice", c.Token, ""); err != nil {
		t.Errorf("new token: %v", err)
	}
	list, _ := f.svc.Tokens("alice")
	if len(list) != 1 || list[0].ID != c.ID || list[0].CreatedVia != "helper" {
		t.Errorf("tokens after replace: %+v", list)
	}
}

// TestReplaceAtTheLimit: replacing a token of a user who holds the most
// tokens allowed frees the slot of the replaced one (the credential helper
// does this on every login).
func TestReplaceAtTheLimit(t *testing.T) {
	f := newFixture(t, Options{MaxTokens: 2})
	f.user(t, "alice", "alice-password", false)
	f.token(t, "alice", "laptop")
	f.token(t, "alice", "desktop")
	if _, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "laptop", Replace: true}); err != nil {
		t.Fatalf("replace at the limit: %v", err)
	}
	list, _ := f.svc.Tokens("alice")
	if len(list) != 2 {
		t.Errorf("%d tokens after replace, want 2", len(list))
	}
}

func TestConcurrentCreatesRespectTheLimit(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok, lim int
	)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: strings.Repeat("t", i+1)})
			var le *LimitError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.As(err, &le):
				lim++
			default:
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 5 || lim != 25 {
		t.Errorf("%d created, %d refused; want 5 and 25", ok, lim)
	}
}

func TestPlaintextIsNotStored(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	id, plain := f.token(t, "alice", "laptop")
	list, err := f.spy.Store.Tokens("alice")
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	st := list[0]
	if st.ID != id || string(st.Hash) != string(f.svc.TokenHash(plain)) || len(st.Hash) != 32 {
		t.Errorf("stored token %+v is not keyed by HMAC-SHA256 of the plaintext", st)
	}
	// Another pepper gives another hash: the pepper keys the HMAC.
	other, _ := New(f.spy, Options{Pepper: []byte(strings.Repeat("p", 32)), PasswordParams: cheap})
	if string(other.TokenHash(plain)) == string(st.Hash) {
		t.Error("the hash does not depend on the pepper")
	}
	u, _ := f.spy.Store.User("alice")
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") || strings.Contains(u.PasswordHash, "alice-password") {
		t.Errorf("stored password hash %q", u.PasswordHash)
	}
}

func TestLastUsedIsBatched(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	id, tok := f.token(t, "alice", "laptop")
	f.token(t, "alice", "desktop") // never used: its last use stays empty

	before := f.spy.Writes()
	var last time.Time
	for i := 0; i < 20; i++ {
		f.clock.Advance(time.Second)
		last = f.clock.Now()
		if _, err := f.svc.AuthenticateToken("alice", tok, "198.51.100.1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.spy.Writes() - before; n != 0 {
		t.Fatalf("20 token authentications wrote the store %d times, want 0", n)
	}
	stored, _ := f.spy.Store.Tokens("alice")
	for _, s := range stored {
		if s.LastUsedAt != nil {
			t.Fatalf("last use of %s in the store before Flush: %v", s.Name, s.LastUsedAt)
		}
	}
	// Tokens shows the pending time.
	list, _ := f.svc.Tokens("alice")
	for _, l := range list {
		switch {
		case l.ID == id && (l.LastUsedAt == nil || !l.LastUsedAt.Equal(last)):
			t.Errorf("Tokens shows last use %v, want %v", l.LastUsedAt, last)
		case l.ID != id && l.LastUsedAt != nil:
			t.Errorf("unused token shows last use %v", l.LastUsedAt)
		}
	}

	if err := f.svc.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(f.spy.recordCalls) != 1 || len(f.spy.recordCalls[0]) != 1 {
		t.Fatalf("Flush made %d RecordTokenUse calls (%v), want one with one token", len(f.spy.recordCalls), f.spy.recordCalls)
	}
	stored, _ = f.spy.Store.Tokens("alice")
	for _, s := range stored {
		if s.ID == id && (s.LastUsedAt == nil || !s.LastUsedAt.Equal(last)) {
			t.Errorf("after Flush the store has %v, want %v", s.LastUsedAt, last)
		}
	}
	// Nothing pending: Flush does not write again.
	if err := f.svc.Flush(); err != nil || len(f.spy.recordCalls) != 1 {
		t.Errorf("empty Flush: %v, %d calls", err, len(f.spy.recordCalls))
	}
}

func TestFailedFlushKeepsTheBatch(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	id, tok := f.token(t, "alice", "laptop")
	f.clock.Advance(time.Minute)
	used := f.clock.Now()
	if _, err := f.svc.AuthenticateToken("alice", tok, ""); err != nil {
		t.Fatal(err)
	}
	f.spy.SetFailRecord(true)
	err := f.svc.Flush()
	if err == nil || !errors.Is(err, model.ErrUnavailable) {
		t.Fatalf("Flush on a failing store = %v", err)
	}
	list, _ := f.svc.Tokens("alice")
	if len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(used) {
		t.Fatalf("after a failed Flush Tokens shows %+v, want last use %v", list, used)
	}
	// RunFlusher logs the failure and keeps going.
	f.spy.SetFailRecord(false)
	if err := f.svc.Flush(); err != nil {
		t.Fatal(err)
	}
	stored, _ := f.spy.Store.Tokens("alice")
	if stored[0].ID != id || stored[0].LastUsedAt == nil || !stored[0].LastUsedAt.Equal(used) {
		t.Errorf("the retried Flush stored %v, want %v", stored[0].LastUsedAt, used)
	}
}

func TestRevokedTokenIsNotFlushedBack(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	id, tok := f.token(t, "alice", "laptop")
	if _, err := f.svc.AuthenticateToken("alice", tok, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeToken(Actor{Name: "alice"}, "alice", id); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateToken("alice", tok, ""); err != ErrAuthFailed {
		t.Errorf("revoked token: %v", err)
	}
	if err := f.svc.RevokeToken(Actor{Name: "alice"}, "alice", id); err != ErrNotFound {
		t.Errorf("revoking twice: %v", err)
	}
	if list, _ := f.svc.Tokens("alice"); len(list) != 0 {
		t.Errorf("tokens after revoke: %+v", list)
	}
}

func TestAuditTrail(t *testing.T) {
	f := newFixture(t, Options{})
	admin := Actor{Name: "root", IP: "198.51.100.1"}
	if _, err := f.svc.CreateUser(admin, "alice", "alice-password", false, false); err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.CreateToken(Actor{Name: "alice", IP: "198.51.100.2"}, "alice", NewToken{Name: "laptop", Via: "api"})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Authenticate("alice", "wrong-password-xyz", "203.0.113.9")
	yes := true
	f.svc.UpdateUser(admin, "alice", UserChange{Disabled: &yes, Admin: &yes})
	f.svc.RevokeToken(admin, "alice", c.ID)

	all, err := f.svc.Activities(Principal{Local: true}, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ action, actor, subject, token, ip string }
	got := map[key]bool{}
	for i, a := range all {
		got[key{a.Action, a.Actor, a.Subject, a.TokenName, a.ClientIP}] = true
		if i > 0 && a.ID >= all[i-1].ID {
			t.Errorf("activities not newest first: %d after %d", a.ID, all[i-1].ID)
		}
		for _, secret := range []string{c.Token, "alice-password", "wrong-password-xyz"} {
			if strings.Contains(a.Actor+a.Subject+a.TokenName+a.Detail+a.ClientIP, secret) {
				t.Errorf("activity %+v holds a secret", a)
			}
		}
	}
	for _, k := range []key{
		{"user.create", "root", "alice", "", "198.51.100.1"},
		{"token.create", "alice", "alice", "laptop", "198.51.100.2"},
		{"auth.failure", "alice", "", "", "203.0.113.9"},
		{"user.disable", "root", "alice", "", "198.51.100.1"},
		{"user.admin.grant", "root", "alice", "", "198.51.100.1"},
		{"token.revoke", "root", "alice", "laptop", "198.51.100.1"},
	} {
		if !got[k] {
			t.Errorf("no activity %+v in %+v", k, all)
		}
	}
}

func TestAuditIsPruned(t *testing.T) {
	// The entries are failures, which FailureAuditKeep caps
	// (TestFailuresKeepHistory: AuditKeep caps the history alone).
	f := newFixture(t, Options{AuditKeep: 5, FailureAuditKeep: 5})
	for i := 0; i < 12; i++ {
		f.svc.Authenticate("nobody", "wrong-password", "")
		f.clock.Advance(11 * time.Minute)
	}
	all, err := f.svc.Activities(Principal{Local: true}, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Errorf("%d activities kept, want 5", len(all))
	}
}

func TestStoreFailureIsNotAuthFailure(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	_, tok := f.token(t, "alice", "laptop")
	f.spy.Store.Close()
	if _, err := f.svc.AuthenticateToken("alice", tok, ""); err == nil || err == ErrAuthFailed || !errors.Is(err, model.ErrUnavailable) {
		t.Errorf("token lookup on a closed store: %v, want ErrUnavailable", err)
	}
	if _, err := f.svc.AuthenticatePassword("alice", "alice-password", ""); err == nil || err == ErrAuthFailed {
		t.Errorf("password check on a closed store: %v, want a store error", err)
	}
}

func TestRunFlusherWritesPeriodically(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	_, tok := f.token(t, "alice", "laptop")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.svc.RunFlusher(ctx, 5*time.Millisecond)
	}()
	defer func() { cancel(); <-done }()
	if _, err := f.svc.AuthenticateToken("alice", tok, ""); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		stored, err := f.spy.Store.Tokens("alice")
		if err != nil {
			t.Fatal(err)
		}
		if stored[0].LastUsedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RunFlusher did not write the last use within 5 s")
		}
	}
}
