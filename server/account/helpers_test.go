package account

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/boltstore"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// spyStore is a real store that counts writes and can be told to fail
// RecordTokenUse, as a full disk would.
type spyStore struct {
	model.Store

	mu          sync.Mutex
	writes      int
	recordCalls []map[string]time.Time
	failRecord  bool
	failMark    bool // MarkTokenNotified fails, as after a crash
}

func (s *spyStore) SetFailMark(fail bool) {
	s.mu.Lock()
	s.failMark = fail
	s.mu.Unlock()
}

func (s *spyStore) MarkTokenNotified(id, event string, expiry time.Time) (bool, error) {
	s.mu.Lock()
	fail := s.failMark
	s.mu.Unlock()
	if fail {
		return false, model.Unavailable("marking an expiry notified", errors.New("the store went away"))
	}
	return s.Store.MarkTokenNotified(id, event, expiry)
}

func (s *spyStore) wrote() {
	s.mu.Lock()
	s.writes++
	s.mu.Unlock()
}

func (s *spyStore) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func (s *spyStore) SetFailRecord(fail bool) {
	s.mu.Lock()
	s.failRecord = fail
	s.mu.Unlock()
}

func (s *spyStore) CreateUser(u model.User, first bool) (model.User, error) {
	s.wrote()
	return s.Store.CreateUser(u, first)
}

func (s *spyStore) UpdateUser(name string, change func(*model.User) error) (model.User, error) {
	s.wrote()
	return s.Store.UpdateUser(name, change)
}

func (s *spyStore) CreateToken(t model.NewToken) (*model.Token, error) {
	s.wrote()
	return s.Store.CreateToken(t)
}

func (s *spyStore) RevokeToken(owner, id string) (model.Token, error) {
	s.wrote()
	return s.Store.RevokeToken(owner, id)
}

func (s *spyStore) AddActivity(a model.Activity, keep int) error {
	s.wrote()
	return s.Store.AddActivity(a, keep)
}

func (s *spyStore) RecordTokenUse(uses map[string]model.TokenUse) error {
	s.mu.Lock()
	s.writes++
	cp := make(map[string]time.Time, len(uses))
	for k, v := range uses {
		cp[k] = v.At
	}
	s.recordCalls = append(s.recordCalls, cp)
	fail := s.failRecord
	s.mu.Unlock()
	if fail {
		return model.Unavailable("recording token use", errors.New("no space left on device"))
	}
	return s.Store.RecordTokenUse(uses)
}

type fixture struct {
	svc   *Service
	spy   *spyStore
	clock *fakeClock
	log   *bytes.Buffer
}

var testPepper = bytes.Repeat([]byte{0x42}, 32)

// newFixture returns a Service on a real bbolt file with cheap hashing and
// a fake clock.
func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "portus.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{spy: &spyStore{Store: st}, clock: newClock(), log: &bytes.Buffer{}}
	if opts.Pepper == nil {
		opts.Pepper = testPepper
	}
	if opts.PasswordParams == (PasswordParams{}) {
		opts.PasswordParams = cheap
	}
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(f.log, nil))
	}
	f.svc, err = New(f.spy, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.svc.StopLeakReports) // before the store closes
	return f
}

func (f *fixture) user(t *testing.T, name, password string, admin bool) {
	t.Helper()
	if _, err := f.svc.CreateUser(Actor{Name: "test"}, name, password, admin, false); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
}

func (f *fixture) token(t *testing.T, owner, name string) (id, plain string) {
	t.Helper()
	c, err := f.svc.CreateToken(Actor{Name: owner}, owner, NewToken{Name: name, Via: "api"})
	if err != nil {
		t.Fatalf("CreateToken(%s, %s): %v", owner, name, err)
	}
	return c.ID, c.Token
}

func wantThrottled(t *testing.T, err error, min, max time.Duration) {
	t.Helper()
	var te *ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v, want a *ThrottledError", err)
	}
	if te.RetryAfter < min || te.RetryAfter > max {
		t.Fatalf("RetryAfter = %s, want between %s and %s", te.RetryAfter, min, max)
	}
}
