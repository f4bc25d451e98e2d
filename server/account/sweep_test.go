package account

import (
	"errors"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// take returns the expiry events (token.expiring, token.expired) so far
// and forgets all events: the sweep's tests are about those two.
func (l *eventLog) take() []model.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var got []model.Event
	for _, e := range l.events {
		if e.Type == model.EventTokenExpiring || e.Type == model.EventTokenExpired {
			got = append(got, e)
		}
	}
	l.events = nil
	return got
}

func (f *fixture) sweep(t *testing.T) {
	t.Helper()
	if err := f.svc.SweepTokens(); err != nil {
		t.Fatalf("SweepTokens: %v", err)
	}
}

func wantEvents(t *testing.T, when string, got []model.Event, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: events %+v, want %v", when, got, want)
	}
	for i := range want {
		if got[i].Type != want[i] {
			t.Errorf("%s: event %d is %s, want %s", when, i, got[i].Type, want[i])
		}
	}
}

// TestSweepEventsOnce: token.expiring 7 days ahead and token.expired at
// the expiry, each once, even across a restart of the service.
func TestSweepEventsOnce(t *testing.T) {
	events := &eventLog{}
	opts := Options{Events: events.add}
	f := newFixture(t, opts)
	f.user(t, "alice", "alice-password", false)
	exp := f.clock.Now().Add(10 * 24 * time.Hour)
	if _, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "ci", ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	f.sweep(t)
	wantEvents(t, "10 days ahead", events.take())
	if n, err := f.svc.ExpiringSoon(); n != 0 || err != nil {
		t.Errorf("ExpiringSoon = %d, %v; want 0", n, err)
	}
	f.clock.Advance(3 * 24 * time.Hour)
	f.sweep(t)
	got := events.take()
	wantEvents(t, "7 days ahead", got, model.EventTokenExpiring)
	if e := got[0]; e.User != "alice" || e.TokenName != "ci" || e.ExpiresAt == nil || !e.ExpiresAt.Equal(exp) {
		t.Errorf("expiring event %+v", e)
	}
	if n, _ := f.svc.ExpiringSoon(); n != 1 {
		t.Errorf("ExpiringSoon = %d, want 1", n)
	}
	f.sweep(t)
	wantEvents(t, "swept again", events.take())

	// A restarted server remembers what it told.
	restarted, err := New(f.spy, Options{Pepper: testPepper, PasswordParams: cheap, Now: f.clock.Now, Events: events.add})
	if err != nil {
		t.Fatal(err)
	}
	if err := restarted.SweepTokens(); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, "after a restart", events.take())
	f.clock.Advance(7 * 24 * time.Hour)
	for range 2 {
		if err := restarted.SweepTokens(); err != nil {
			t.Fatal(err)
		}
	}
	got = events.take()
	wantEvents(t, "at the expiry", got, model.EventTokenExpired)
	if got[0].Reason != "expired" {
		t.Errorf("expired event reason %q, want expired", got[0].Reason)
	}
	if n, _ := restarted.ExpiringSoon(); n != 0 {
		t.Errorf("ExpiringSoon = %d after the expiry, want 0", n)
	}
}

// expiringSoonFixture has alice's token ci expire in 6 days: the next
// sweep tells token.expiring.
func expiringSoonFixture(t *testing.T) (*fixture, *eventLog) {
	t.Helper()
	events := &eventLog{}
	f := newFixture(t, Options{Events: events.add})
	f.user(t, "alice", "alice-password", false)
	exp := f.clock.Now().Add(6 * 24 * time.Hour)
	if _, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "ci", ExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	return f, events
}

// TestSweepRetriesUnqueuedEvents: an expiry event that could not be
// queued is not marked told, so the next sweep queues it; none is lost.
func TestSweepRetriesUnqueuedEvents(t *testing.T) {
	f, events := expiringSoonFixture(t)
	events.setFail(model.Unavailable("queueing webhooks", errors.New("the store went away")))
	if err := f.svc.SweepTokens(); err == nil {
		t.Error("a sweep whose event could not be queued reported no error")
	}
	events.setFail(nil)
	f.sweep(t)
	wantEvents(t, "after the queue came back", events.take(), model.EventTokenExpiring)
	f.sweep(t)
	wantEvents(t, "swept again", events.take())
}

// TestSweepRepeatsUnderOneID: when the mark fails after the event was
// queued (a crash in between), the next sweep queues the event again
// under the same id, for receivers to deduplicate.
func TestSweepRepeatsUnderOneID(t *testing.T) {
	f, events := expiringSoonFixture(t)
	f.spy.SetFailMark(true)
	if err := f.svc.SweepTokens(); err == nil {
		t.Fatal("a sweep whose mark failed reported no error")
	}
	f.spy.SetFailMark(false)
	f.sweep(t)
	f.sweep(t)
	got := events.take()
	wantEvents(t, "queued, crashed, swept again", got, model.EventTokenExpiring, model.EventTokenExpiring)
	if got[0].ID == "" || got[0].ID != got[1].ID {
		t.Errorf("the repeated event has ids %q and %q, want one id", got[0].ID, got[1].ID)
	}
}

// TestIdleExpiry: an idle token expires at LastActive + Idle exactly,
// its event says so, and a use before then moves the expiry.
func TestIdleExpiry(t *testing.T) {
	events := &eventLog{}
	f := newFixture(t, Options{Events: events.add, TokenPolicy: TokenPolicy{Idle: 30 * 24 * time.Hour}})
	f.user(t, "alice", "alice-password", false)
	_, plain := f.token(t, "alice", "ci")
	f.clock.Advance(20 * 24 * time.Hour)
	if _, err := f.svc.AuthenticateToken("alice", plain, "203.0.113.7"); err != nil {
		t.Fatalf("used after 20 days: %v", err)
	}
	f.clock.Advance(30*24*time.Hour - time.Nanosecond)
	if _, err := f.svc.AuthenticateToken("alice", plain, "203.0.113.7"); err != nil {
		t.Fatalf("used a moment before the idle limit: %v", err)
	}
	f.clock.Advance(30 * 24 * time.Hour)
	if _, err := f.svc.AuthenticateToken("alice", plain, "203.0.113.7"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("used after 30 days idle: %v, want ErrAuthFailed", err)
	}
	f.sweep(t)
	got := events.take()
	wantEvents(t, "idle", got, model.EventTokenExpired)
	if got[0].Reason != "idle" {
		t.Errorf("reason %q, want idle", got[0].Reason)
	}
}

func TestMaxLifetimeRefused(t *testing.T) {
	f := newFixture(t, Options{TokenPolicy: TokenPolicy{MaxLifetime: 365 * 24 * time.Hour}})
	f.user(t, "alice", "alice-password", false)
	if p := f.svc.TokenPolicy(); p.DefaultLifetime != DefaultTokenLifetime || p.Keep != DefaultExpiredTokenKeep {
		t.Errorf("policy defaults %+v", p)
	}
	long := f.clock.Now().Add(366 * 24 * time.Hour)
	for _, exp := range []*time.Time{nil, &long} {
		_, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "ci", ExpiresAt: exp})
		var le *LifetimeError
		if !errors.As(err, &le) || le.Max != 365*24*time.Hour || le.Error() != "this server's max_token_lifetime is 365 days: set expires_at no later than that from now" {
			t.Errorf("expiry %v: %v, want a LifetimeError of 365 days", exp, err)
		}
	}
}

// Under a maximum, the tokens that programs ask for without an expiry
// (the helper's exchange, the device grant) get the default lifetime
// instead of the refusal a person gets; without one they keep none.
func TestUnattendedTokensGetTheDefaultLifetime(t *testing.T) {
	policy := TokenPolicy{MaxLifetime: 365 * 24 * time.Hour, DefaultLifetime: 30 * 24 * time.Hour}
	f := newFixture(t, Options{TokenPolicy: policy})
	f.user(t, "alice", "alice-password", false)
	for _, via := range []string{apitypes.ViaHelper, apitypes.ViaDevice} {
		c, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "m-" + via, Via: via})
		if want := f.clock.Now().Add(policy.DefaultLifetime); err != nil || c.ExpiresAt == nil || !c.ExpiresAt.Equal(want) {
			t.Errorf("via %s: expiry %v, %v; want %v", via, c.ExpiresAt, err, want)
		}
	}
	var le *LifetimeError
	if _, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "by-hand", Via: apitypes.ViaWeb}); !errors.As(err, &le) {
		t.Errorf("a person's token without expiry: %v, want a LifetimeError", err)
	}
	g := newFixture(t, Options{})
	g.user(t, "bob", "bob-password", false)
	if c, err := g.svc.CreateToken(Actor{Name: "bob"}, "bob", NewToken{Name: "m", Via: apitypes.ViaHelper}); err != nil || c.ExpiresAt != nil {
		t.Errorf("no maximum: helper token expiry %v, %v; want none", c.ExpiresAt, err)
	}
}

func TestCutClient(t *testing.T) {
	for in, want := range map[string]string{
		"docker/28.2":           "docker/28.2",
		"a\nb\x00c":             "a?b?c",
		string(make([]byte, 0)): "",
	} {
		if got := cutClient(in); got != want {
			t.Errorf("cutClient(%q) = %q, want %q", in, got, want)
		}
	}
	long := ""
	for range 60 {
		long += "é" // two bytes: the cut must not split one
	}
	if got := cutClient(long); len(got) != 100 {
		t.Errorf("cutClient of 120 bytes = %d bytes, want 100", len(got))
	}
}
