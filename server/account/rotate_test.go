package account

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// eventLog collects published events.
type eventLog struct {
	mu     sync.Mutex
	events []model.Event
	fail   error // set: queueing fails, as a store that is down would
}

func (l *eventLog) add(e model.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.events = append(l.events, e)
	return nil
}

func (l *eventLog) setFail(err error) {
	l.mu.Lock()
	l.fail = err
	l.mu.Unlock()
}

func (l *eventLog) of(typ string) []model.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.Event
	for _, e := range l.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestRotateGraceAndReuse(t *testing.T) {
	events := &eventLog{}
	f := newFixture(t, Options{RotationGrace: 10 * time.Minute, Events: events.add})
	f.user(t, "alice", "correct horse battery", false)
	id, old := f.token(t, "alice", "ci")

	rotated, err := f.svc.Rotate(Actor{Name: "alice", IP: "192.0.2.1"}, "alice", id)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.ID != id || rotated.Name != "ci" || rotated.Token == old || rotated.Token == "" {
		t.Fatalf("Rotate = id %s name %s; want the same id and name with a new secret", rotated.ID, rotated.Name)
	}
	if e := events.of(model.EventTokenRotated); len(e) != 1 || e[0].TokenID != id || e[0].User != "alice" {
		t.Errorf("rotated events = %+v", e)
	}
	f.clock.Advance(9 * time.Minute)
	if p, err := f.svc.AuthenticateToken("alice", old, "198.51.100.1"); err != nil || p.Token.ID != id {
		t.Fatalf("old secret within the grace: %v", err)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.svc.AuthenticateToken("alice", old, "203.0.113.7"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("old secret after the grace: %v, want ErrAuthFailed", err)
	}
	if _, err := f.svc.AuthenticateBearer(old, "203.0.113.7"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("old secret as a bearer after the grace: %v, want ErrAuthFailed", err)
	}
	// The reuse does not touch the live secret.
	if p, err := f.svc.AuthenticateToken("alice", rotated.Token, "192.0.2.1"); err != nil || p.Token.ID != id {
		t.Fatalf("new secret after a reuse: %v", err)
	}
	if e := events.of(model.EventTokenReuse); len(e) != 1 || e[0].Address != "203.0.113.7" || e[0].TokenName != "ci" {
		t.Errorf("reuse events = %+v; want one, from 203.0.113.7 (the second use within the audit interval is not repeated)", e)
	}
	notices, err := f.svc.ReuseNotices("alice")
	if err != nil || len(notices) != 1 || notices[0].String() != "a replaced secret of 'ci' was used from 203.0.113.7" {
		t.Fatalf("ReuseNotices = %v, %v", notices, err)
	}
	acts, err := f.svc.Activities(Principal{User: model.User{Name: "alice"}}, "", 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var reuse, failure bool
	for _, a := range acts {
		reuse = reuse || (a.Action == ActionTokenReuse && a.ClientIP == "203.0.113.7" && a.Subject == "alice")
		failure = failure || (a.Action == model.ActionAuthFailure && strings.Contains(a.Detail, "replaced secret"))
		if strings.Contains(a.Detail, "ptk_") {
			t.Errorf("an audit entry holds a token: %+v", a)
		}
	}
	if !reuse || !failure {
		t.Errorf("audit: token.reuse %v, refusal %v; want both", reuse, failure)
	}
	if notices, _ := f.svc.ReuseNotices("bob"); len(notices) != 0 {
		t.Errorf("another user sees %v", notices)
	}
}

func TestRotateZeroGrace(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "correct horse battery", false)
	id, old := f.token(t, "alice", "ci")
	if _, err := f.svc.Rotate(Actor{Name: "alice"}, "alice", id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateToken("alice", old, "203.0.113.7"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("old secret with no grace: %v", err)
	}
}

func TestRotateCurrentNeedsTheLiveSecret(t *testing.T) {
	f := newFixture(t, Options{RotationGrace: time.Hour})
	f.user(t, "alice", "correct horse battery", false)
	id, old := f.token(t, "alice", "ci")
	p, err := f.svc.AuthenticateToken("alice", old, "")
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.svc.RotateCurrent(p, "")
	if err != nil || first.ID != id {
		t.Fatalf("RotateCurrent: %v", err)
	}
	// The old secret still signs in (grace) but cannot rotate again.
	p, err = f.svc.AuthenticateToken("alice", old, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RotateCurrent(p, ""); !errors.Is(err, ErrRotated) {
		t.Fatalf("RotateCurrent from a replaced secret: %v, want ErrRotated", err)
	}
	if _, err := f.svc.RotateCurrent(Principal{User: p.User}, ""); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("RotateCurrent without a token: %v", err)
	}
	if _, err := f.svc.Rotate(Actor{Name: "bob"}, "bob", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Rotate of another user's token: %v", err)
	}
}

func TestRotateRestartsTheLifetime(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "correct horse battery", false)
	exp := f.clock.Now().Add(30 * 24 * time.Hour)
	c, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "ci", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		f.clock.Advance(10 * 24 * time.Hour)
		r, err := f.svc.Rotate(Actor{Name: "alice"}, "alice", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := f.clock.Now().Add(30 * 24 * time.Hour); r.ExpiresAt == nil || !r.ExpiresAt.Equal(want) {
			t.Fatalf("rotated expiry = %v, want %s (the 30-day lifetime from now)", r.ExpiresAt, want)
		}
	}
	f.clock.Advance(31 * 24 * time.Hour)
	if _, err := f.svc.Rotate(Actor{Name: "alice"}, "alice", c.ID); !errors.Is(err, ErrRotateExpired) {
		t.Fatalf("Rotate of an expired token: %v", err)
	}
	_, never := f.token(t, "alice", "laptop")
	p, _ := f.svc.AuthenticateToken("alice", never, "")
	if r, err := f.svc.RotateCurrent(p, ""); err != nil || r.ExpiresAt != nil {
		t.Fatalf("rotating a token without expiry: %v, expiry %v", err, r.ExpiresAt)
	}
}

// A rotation restarts a token's lifetime, but never past the server's
// max_token_lifetime: a token made before the maximum was set, without
// expiry, gets one at its next rotation.
func TestRotateCappedByMaxLifetime(t *testing.T) {
	year := 365 * 24 * time.Hour
	f := newFixture(t, Options{TokenPolicy: TokenPolicy{MaxLifetime: year}})
	f.user(t, "alice", "correct horse battery", false)
	exp := f.clock.Now().Add(year)
	c, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "ci", Via: "api", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(24 * time.Hour)
	rotated, err := f.svc.Rotate(Actor{Name: "alice"}, "alice", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.clock.Now().Add(year); rotated.ExpiresAt == nil || !rotated.ExpiresAt.Equal(want) {
		t.Fatalf("rotated expiry = %v, want %v (the lifetime restarts, a year from now)", rotated.ExpiresAt, want)
	}
	// No expiry gets the maximum.
	if got := f.svc.capLifetime(nil, f.clock.Now()); got == nil || !got.Equal(f.clock.Now().Add(year)) {
		t.Fatalf("capLifetime(nil) = %v, want now + a year", got)
	}
	longer := f.clock.Now().Add(2 * year)
	if got := f.svc.capLifetime(&longer, f.clock.Now()); !got.Equal(f.clock.Now().Add(year)) {
		t.Fatalf("capLifetime(2y) = %v, want now + a year", got)
	}
}
