package account

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/server/model"
)

// flakyStore holds every RevokeToken until open is closed, then fails the
// first fails of them, as a store riding out an outage would.
type flakyStore struct {
	model.Store
	open chan struct{}

	mu    sync.Mutex
	fails int
	calls int
}

var errFlaky = errors.New("store unavailable (test)")

func (s *flakyStore) RevokeToken(owner, id string) (model.Token, error) {
	<-s.open
	s.mu.Lock()
	s.calls++
	fail := s.calls <= s.fails
	s.mu.Unlock()
	if fail {
		return model.Token{}, errFlaky
	}
	return s.Store.RevokeToken(owner, id)
}

// flakyService is a Service on f's store through a flakyStore, with fast
// retries, and n live tokens of alice's.
func flakyService(t *testing.T, f *fixture, fails, n int, retry leakRetryPolicy) (*Service, *flakyStore, *testutil.LockedBuffer, []string) {
	t.Helper()
	f.user(t, "alice", "correct horse battery", false)
	var tokens []string
	for i := range n {
		_, plain := f.token(t, "alice", fmt.Sprintf("ci%d", i))
		tokens = append(tokens, plain)
	}
	st := &flakyStore{Store: f.spy, open: make(chan struct{}), fails: fails}
	logs := &testutil.LockedBuffer{}
	svc, err := New(st, Options{Pepper: testPepper, PasswordParams: cheap, Now: f.clock.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	svc.leakWork.retry = retry
	t.Cleanup(svc.StopLeakReports)
	return svc, st, logs, tokens
}

// live reports which of tokens still find a token in the store.
func live(t *testing.T, f *fixture, svc *Service, tokens []string) int {
	t.Helper()
	n := 0
	for _, plain := range tokens {
		_, _, err := f.spy.TokenByHash(svc.TokenHash(plain))
		if err == nil {
			n++
		} else if !errors.Is(err, model.ErrNotFound) {
			t.Fatal(err)
		}
	}
	return n
}

// A report answered 202 whose writes fail at first is not lost: the
// worker retries the failed tokens until the store takes them.
func TestLeakReportRetriedAfterStoreFailures(t *testing.T) {
	f := newFixture(t, Options{MaxTokens: 20})
	svc, st, logs, tokens := flakyService(t, f, 3, 2, leakRetryPolicy{first: 5 * time.Millisecond, max: 20 * time.Millisecond, total: time.Minute, stop: time.Minute})
	// The writes are held past the floor, so the reporter is told 202 and
	// will not send the report again.
	if err := svc.RevokeLeaked("203.0.113.9", tokens, testLeakSource); err != nil {
		t.Fatalf("RevokeLeaked = %v, want the 202 answer", err)
	}
	close(st.open)
	deadline := time.Now().Add(10 * time.Second)
	for live(t, f, svc, tokens) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d reported tokens still work 10 s after the store recovered; log:\n%s", live(t, f, svc, tokens), logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	svc.StopLeakReports()
	out := logs.String()
	if !strings.Contains(out, "retrying") || strings.Contains(out, "gave up") {
		t.Fatalf("log does not show a retry that succeeded:\n%s", out)
	}
	for _, plain := range tokens {
		if strings.Contains(out, plain) {
			t.Fatal("a reported token is in the log")
		}
	}
}

// A store that keeps failing is retried for the policy's total time, then
// given up with an error that counts the tokens left and never names them.
func TestLeakReportRetriesGiveUp(t *testing.T) {
	f := newFixture(t, Options{MaxTokens: 20})
	svc, st, logs, tokens := flakyService(t, f, 1<<30, 3, leakRetryPolicy{first: 5 * time.Millisecond, max: 10 * time.Millisecond, total: 100 * time.Millisecond, stop: time.Minute})
	close(st.open)
	if err := svc.RevokeLeaked("203.0.113.9", tokens, testLeakSource); !errors.Is(err, errFlaky) {
		t.Fatalf("RevokeLeaked with a failing store, within the floor = %v, want the store's error (send again)", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "gave up") {
		if time.Now().After(deadline) {
			t.Fatalf("no give-up logged 10 s into a 100 ms retry policy; log:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "tokens=3") {
		t.Fatalf("give-up is not an error naming 3 tokens:\n%s", out)
	}
	for _, plain := range tokens {
		if strings.Contains(out, plain) {
			t.Fatal("a reported token is in the log")
		}
	}
	st.mu.Lock()
	calls := st.calls
	st.mu.Unlock()
	if calls < 3*3 {
		t.Fatalf("%d revocation attempts for 3 tokens, want each retried", calls)
	}
}

// StopLeakReports, as Core.Close calls it before closing the store, waits
// for the reports already answered: their revocations reach the store;
// a report after it is refused.
func TestStopLeakReportsDrainsQueue(t *testing.T) {
	f := newFixture(t, Options{MaxTokens: 20})
	svc, st, _, tokens := flakyService(t, f, 0, 3, defaultLeakRetry)
	for i, plain := range tokens {
		if err := svc.RevokeLeaked(fmt.Sprintf("198.51.100.%d", i), []string{plain}, testLeakSource); err != nil {
			t.Fatalf("report %d = %v, want the 202 answer", i, err)
		}
	}
	stopped := make(chan struct{})
	go func() {
		svc.StopLeakReports()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("StopLeakReports returned while the answered reports' revocations were held")
	case <-time.After(100 * time.Millisecond):
	}
	close(st.open)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("StopLeakReports did not return 10 s after the store took the writes")
	}
	// The store is still open here: whatever the worker did, it did first.
	if n := live(t, f, svc, tokens); n != 0 {
		t.Fatalf("%d answered reports' tokens still work after StopLeakReports", n)
	}
	if err := svc.RevokeLeaked("192.0.2.7", tokens[:1], testLeakSource); !errors.Is(err, ErrLeakReportsStopped) {
		t.Fatalf("report after StopLeakReports = %v, want ErrLeakReportsStopped", err)
	}
	svc.StopLeakReports() // twice is harmless
}
