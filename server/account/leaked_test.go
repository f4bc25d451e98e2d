package account

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

const testLeakSource = "https://paste.example.org/p/42"

// A replaced secret still in its rotation grace, reported as leaked,
// stops working at once; the live secret is left alone and the owner is
// told.
func TestLeakedReplacedSecretStopsAtOnce(t *testing.T) {
	f := newFixture(t, Options{RotationGrace: 10 * time.Minute})
	f.user(t, "alice", "correct horse battery", false)
	id, old := f.token(t, "alice", "ci")
	live, err := f.svc.Rotate(Actor{Name: "alice"}, "alice", id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateToken("alice", old, "192.0.2.1"); err != nil {
		t.Fatalf("old secret within the grace: %v", err)
	}
	if err := f.svc.RevokeLeaked("203.0.113.9", []string{old}, testLeakSource); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateToken("alice", old, "192.0.2.1"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("reported old secret, still within its grace: %v, want ErrAuthFailed at once", err)
	}
	if p, err := f.svc.AuthenticateToken("alice", live.Token, "192.0.2.1"); err != nil || p.Token.ID != id {
		t.Fatalf("live secret after its old one was reported: %v; want it untouched", err)
	}
	notices, err := f.svc.LeakNotices("alice")
	if err != nil || len(notices) != 1 || !notices[0].Replaced || notices[0].TokenName != "ci" || notices[0].Source != testLeakSource {
		t.Fatalf("LeakNotices = %+v, %v; want one notice of a replaced secret of 'ci' naming the source", notices, err)
	}
}

// gateStore holds every RevokeToken until open is closed, as a slow disk
// would.
type gateStore struct {
	model.Store
	open chan struct{}
}

func (g *gateStore) RevokeToken(owner, id string) (model.Token, error) {
	<-g.open
	return g.Store.RevokeToken(owner, id)
}

// gatedService is a second Service on f's store whose revocations wait
// for the gate.
func gatedService(t *testing.T, f *fixture) (*Service, chan struct{}) {
	gate := make(chan struct{})
	svc, err := New(&gateStore{Store: f.spy, open: gate}, Options{Pepper: testPepper, PasswordParams: cheap, Now: f.clock.Now, Logger: f.svc.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.StopLeakReports) // so no report runs on a closed store
	return svc, gate
}

// The answer does not wait for the revocations: with every store write
// held, a report of live tokens is answered (at the floor) all the same,
// and the tokens stop working once the writes go through.
func TestLeakReportAnswersBeforeRevocations(t *testing.T) {
	f := newFixture(t, Options{MaxTokens: 20})
	f.user(t, "alice", "correct horse battery", false)
	var tokens []string
	for i := range 10 {
		_, plain := f.token(t, "alice", fmt.Sprintf("ci%d", i))
		tokens = append(tokens, plain)
	}
	svc, gate := gatedService(t, f)
	defer func() {
		if gate != nil {
			close(gate)
		}
	}()
	answered := make(chan error, 1)
	go func() { answered <- svc.RevokeLeaked("203.0.113.9", tokens, testLeakSource) }()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("RevokeLeaked = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RevokeLeaked waited for the revocations' writes; the answer's time must not depend on the matches")
	}
	close(gate)
	gate = nil
	deadline := time.Now().Add(10 * time.Second)
	for _, plain := range tokens {
		for {
			if _, _, err := f.spy.TokenByHash(svc.TokenHash(plain)); errors.Is(err, model.ErrNotFound) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a reported token still works 10 s after the store took the writes")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Reports wait for the one worker in a bounded queue: while it is stuck,
// a report past the queue is refused with ErrLeakQueueFull rather than
// spawning more work.
func TestLeakReportQueueBounded(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "correct horse battery", false)
	_, plain := f.token(t, "alice", "ci")
	svc, gate := gatedService(t, f)
	defer close(gate) // before the cleanup's drain
	// One report in the worker, stuck on the gate, and leakQueueLen waiting.
	var wg sync.WaitGroup
	for i := range leakQueueLen + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := svc.RevokeLeaked(fmt.Sprintf("198.51.100.%d", i), []string{plain}, testLeakSource); err != nil {
				t.Errorf("report %d: %v", i, err)
			}
		}()
		if i == 0 {
			time.Sleep(50 * time.Millisecond) // let the worker take it
		}
	}
	wg.Wait()
	if err := svc.RevokeLeaked("192.0.2.200", []string{plain}, testLeakSource); !errors.Is(err, ErrLeakQueueFull) {
		t.Fatalf("report past a full queue = %v, want ErrLeakQueueFull", err)
	}
}
