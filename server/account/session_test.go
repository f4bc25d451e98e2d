package account

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

func signedIn(t *testing.T, f *fixture, m *Sessions, name, password string) (string, model.Session) {
	t.Helper()
	p, err := f.svc.AuthenticatePassword(name, password, "192.0.2.1")
	if err != nil {
		t.Fatalf("AuthenticatePassword(%s): %v", name, err)
	}
	secret, sess, err := m.Start(p, "192.0.2.1")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return secret, sess
}

func storedSession(t *testing.T, f *fixture, secret string) (model.Session, bool) {
	t.Helper()
	id := sha256.Sum256([]byte(secret))
	sess, _, err := f.spy.Store.SessionByID(id[:])
	if errors.Is(err, model.ErrNotFound) {
		return sess, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return sess, true
}

func TestSessionStartAndLookup(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", true)
	m := f.svc.Sessions(SessionLimits{})
	secret, sess := signedIn(t, f, m, "alice", "alice-password")

	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != 32 {
		t.Fatalf("cookie value %q is not 32 bytes of base64url (%v)", secret, err)
	}
	sum := sha256.Sum256([]byte(secret))
	if !bytes.Equal(sess.ID, sum[:]) {
		t.Errorf("session id = %x, want SHA-256 of the cookie value", sess.ID)
	}
	if len(sess.CSRFToken) < 40 || sess.User != "alice" {
		t.Errorf("session = %+v, want alice's with a random CSRF token", sess)
	}
	p, got, err := m.Lookup(secret)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if p.User.Name != "alice" || !p.Admin() || p.Token != nil || got.CSRFToken != sess.CSRFToken {
		t.Errorf("Lookup = %+v, %+v", p, got)
	}
	// Each sign-in gets its own secret and CSRF token.
	secret2, sess2 := signedIn(t, f, m, "alice", "alice-password")
	if secret2 == secret || sess2.CSRFToken == sess.CSRFToken {
		t.Error("two sign-ins share a secret or a CSRF token")
	}
}

func TestSessionOnlyForPasswords(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	_, tok := f.token(t, "alice", "laptop")
	m := f.svc.Sessions(SessionLimits{})
	p, err := f.svc.AuthenticateToken("alice", tok, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Start(p, ""); err == nil {
		t.Error("Start accepted a principal authenticated by an application token")
	}
	if _, _, err := m.Start(Principal{Local: true}, ""); err == nil {
		t.Error("Start accepted the admin socket")
	}
	if _, _, err := m.Start(Principal{}, ""); err == nil {
		t.Error("Start accepted an empty principal")
	}
}

func TestSessionLookupRefusesGarbage(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	m := f.svc.Sessions(SessionLimits{})
	secret, _ := signedIn(t, f, m, "alice", "alice-password")
	sum := sha256.Sum256([]byte(secret))
	for _, v := range []string{
		"", "x", secret + "A", secret[:len(secret)-1],
		base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		base64.RawURLEncoding.EncodeToString(sum[:]), // the stored id is not a cookie
	} {
		if _, _, err := m.Lookup(v); !errors.Is(err, ErrNoSession) {
			t.Errorf("Lookup(%q) = %v, want ErrNoSession", v, err)
		}
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	m := f.svc.Sessions(SessionLimits{Idle: time.Hour, MaxAge: 24 * time.Hour})
	secret, _ := signedIn(t, f, m, "alice", "alice-password")
	f.clock.Advance(59 * time.Minute)
	if _, _, err := m.Lookup(secret); err != nil {
		t.Fatalf("Lookup after 59 idle minutes: %v", err)
	}
	f.clock.Advance(time.Hour)
	if _, _, err := m.Lookup(secret); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Lookup after an idle hour = %v, want ErrNoSession", err)
	}
	if _, ok := storedSession(t, f, secret); ok {
		t.Error("the timed-out session is still stored")
	}
}

func TestSessionMaxAge(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	m := f.svc.Sessions(SessionLimits{})
	if l := m.Limits(); l.Idle != 12*time.Hour || l.MaxAge != 7*24*time.Hour {
		t.Fatalf("default limits = %+v, want 12h idle and 7 days", l)
	}
	secret, _ := signedIn(t, f, m, "alice", "alice-password")
	for elapsed := time.Duration(0); elapsed < 7*24*time.Hour-6*time.Hour; elapsed += 6 * time.Hour {
		f.clock.Advance(6 * time.Hour)
		if _, _, err := m.Lookup(secret); err != nil {
			t.Fatalf("Lookup of an active session after %s: %v", elapsed+6*time.Hour, err)
		}
	}
	f.clock.Advance(6 * time.Hour) // 7 days and a bit, although active
	if _, _, err := m.Lookup(secret); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Lookup after 7 days = %v, want ErrNoSession", err)
	}
}

func TestSessionLastSeenWrittenAtMostOncePerMinute(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	m := f.svc.Sessions(SessionLimits{})
	secret, start := signedIn(t, f, m, "alice", "alice-password")
	for range 5 {
		f.clock.Advance(10 * time.Second)
		if _, _, err := m.Lookup(secret); err != nil {
			t.Fatal(err)
		}
	}
	if sess, _ := storedSession(t, f, secret); !sess.LastSeen.Equal(start.LastSeen) {
		t.Errorf("LastSeen written within the first minute: %s, want %s", sess.LastSeen, start.LastSeen)
	}
	f.clock.Advance(15 * time.Second) // 65 s after sign-in
	if _, _, err := m.Lookup(secret); err != nil {
		t.Fatal(err)
	}
	sess, _ := storedSession(t, f, secret)
	if want := start.LastSeen.Add(65 * time.Second); !sess.LastSeen.Equal(want) {
		t.Errorf("LastSeen after a minute = %s, want %s", sess.LastSeen, want)
	}
}

func TestSessionsEndWhenUserDisabled(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	f.user(t, "bob", "bob-password", false)
	m := f.svc.Sessions(SessionLimits{})
	a1, _ := signedIn(t, f, m, "alice", "alice-password")
	a2, _ := signedIn(t, f, m, "alice", "alice-password")
	b, _ := signedIn(t, f, m, "bob", "bob-password")
	yes, no := true, false
	if _, err := f.svc.UpdateUser(Actor{Name: "admin"}, "alice", UserChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{a1, a2} {
		if _, ok := storedSession(t, f, s); ok {
			t.Error("a session of the disabled user is still stored")
		}
		if _, _, err := m.Lookup(s); !errors.Is(err, ErrNoSession) {
			t.Errorf("Lookup of a disabled user's session = %v", err)
		}
	}
	if _, _, err := m.Lookup(b); err != nil {
		t.Errorf("bob's session ended with alice's: %v", err)
	}
	// Enabling again does not bring the sessions back.
	if _, err := f.svc.UpdateUser(Actor{Name: "admin"}, "alice", UserChange{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Lookup(a1); !errors.Is(err, ErrNoSession) {
		t.Errorf("a session came back when the user was enabled: %v", err)
	}
}

// Even if a session survived (the delete failed, or the user was disabled
// behind the service's back), Lookup refuses a disabled user.
func TestSessionLookupRefusesDisabledUser(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	m := f.svc.Sessions(SessionLimits{})
	secret, _ := signedIn(t, f, m, "alice", "alice-password")
	if _, err := f.spy.Store.UpdateUser("alice", func(u *model.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Lookup(secret); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Lookup for a disabled user = %v, want ErrNoSession", err)
	}
	if _, _, err := m.Start(Principal{User: model.User{Name: "alice", Disabled: true}}, ""); err == nil {
		t.Error("Start accepted a disabled user")
	}
}

func TestSessionEnd(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	m := f.svc.Sessions(SessionLimits{})
	secret, _ := signedIn(t, f, m, "alice", "alice-password")
	other, _ := signedIn(t, f, m, "alice", "alice-password")
	if err := m.End(Actor{Name: "alice"}, secret); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Lookup(secret); !errors.Is(err, ErrNoSession) {
		t.Errorf("Lookup after End = %v", err)
	}
	if _, _, err := m.Lookup(other); err != nil {
		t.Errorf("End ended another session: %v", err)
	}
	if err := m.End(Actor{}, secret); err != nil {
		t.Errorf("ending twice: %v", err)
	}
	if err := m.End(Actor{}, "garbage"); err != nil {
		t.Errorf("ending garbage: %v", err)
	}
}

func TestSessionStartPrunesExpired(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	m := f.svc.Sessions(SessionLimits{Idle: time.Hour, MaxAge: 2 * time.Hour})
	old, _ := signedIn(t, f, m, "alice", "alice-password")
	f.clock.Advance(3 * time.Hour)
	signedIn(t, f, m, "alice", "alice-password")
	if _, ok := storedSession(t, f, old); ok {
		t.Error("an expired session was not pruned at the next sign-in")
	}
}

func TestSignVerify(t *testing.T) {
	f := newFixture(t, Options{})
	m := f.svc.Sessions(SessionLimits{})
	sig := m.Sign("purpose", "value")
	if !m.Verify("purpose", "value", sig) {
		t.Fatal("Verify refused its own signature")
	}
	for _, c := range []struct{ purpose, value, sig string }{
		{"other", "value", sig},
		{"purpose", "value2", sig},
		{"purpose", "value", sig[:len(sig)-1]},
		{"purpose", "value", ""},
		{"purposev", "alue", sig},
	} {
		if m.Verify(c.purpose, c.value, c.sig) {
			t.Errorf("Verify(%q, %q, %q) = true", c.purpose, c.value, c.sig)
		}
	}
	g := newFixture(t, Options{Pepper: bytes.Repeat([]byte{7}, 32)})
	if g.svc.Sessions(SessionLimits{}).Verify("purpose", "value", sig) {
		t.Error("a server with another pepper accepted the signature")
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	_, tok := f.token(t, "alice", "laptop")
	m := f.svc.Sessions(SessionLimits{})
	secret, _ := signedIn(t, f, m, "alice", "alice-password")
	me := Actor{Name: "alice"}

	if _, err := f.svc.ChangePassword(me, "alice", "wrong-password", "new-password", false); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("wrong current password: %v", err)
	}
	f.clock.Advance(11 * time.Minute)
	var fe *FieldError
	if _, err := f.svc.ChangePassword(me, "alice", "alice-password", "short", false); !errors.As(err, &fe) {
		t.Errorf("short new password: %v", err)
	}
	if _, err := f.svc.ChangePassword(me, "alice", "alice-password", "alice-password", false); !errors.As(err, &fe) {
		t.Errorf("unchanged password: %v", err)
	}
	n, err := f.svc.ChangePassword(me, "alice", "alice-password", "new-password", false)
	if err != nil || n != 0 {
		t.Fatalf("ChangePassword = %d, %v", n, err)
	}
	if _, err := f.svc.AuthenticatePassword("alice", "alice-password", ""); err == nil {
		t.Error("the old password still works")
	}
	if _, err := f.svc.AuthenticatePassword("alice", "new-password", ""); err != nil {
		t.Errorf("the new password does not work: %v", err)
	}
	if _, err := f.svc.AuthenticateToken("alice", tok, ""); err != nil {
		t.Errorf("changing the password without asking revoked a token: %v", err)
	}
	if _, _, err := m.Lookup(secret); !errors.Is(err, ErrNoSession) {
		t.Errorf("a session survived the password change: %v", err)
	}

	f.token(t, "alice", "ci")
	n, err = f.svc.ChangePassword(me, "alice", "new-password", "newer-password", true)
	if err != nil || n != 2 {
		t.Fatalf("ChangePassword with revoke = %d, %v; want 2 tokens revoked", n, err)
	}
	if list, _ := f.svc.Tokens("alice"); len(list) != 0 {
		t.Errorf("tokens left after revoking all: %+v", list)
	}
}

func TestRevokeAllTokens(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	f.user(t, "bob", "bob-password", false)
	f.token(t, "alice", "a")
	f.token(t, "alice", "b")
	f.token(t, "bob", "c")
	n, err := f.svc.RevokeAllTokens(Actor{Name: "admin"}, "alice")
	if err != nil || n != 2 {
		t.Fatalf("RevokeAllTokens = %d, %v", n, err)
	}
	if list, _ := f.svc.Tokens("bob"); len(list) != 1 {
		t.Errorf("bob's tokens = %+v", list)
	}
	if _, err := f.svc.RevokeAllTokens(Actor{Name: "admin"}, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeAllTokens(nobody) = %v", err)
	}
}
