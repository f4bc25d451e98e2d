package webhook_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/webhook"
)

// hanging is a receiver that takes every delivery and never answers
// (until the test ends), telling arrived about each.
type hanging struct {
	srv     *httptest.Server
	arrived chan string // event ids, as deliveries arrive
}

func newHanging(t *testing.T) *hanging {
	h := &hanging{arrived: make(chan string, 200)}
	release := make(chan struct{})
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h.arrived <- req.Header.Get("X-Portus-Event-Id")
		<-release
	}))
	t.Cleanup(h.srv.Close)
	// Runs before srv.Close (which waits for the handlers) and after the
	// dispatcher stopped (registered later by start).
	t.Cleanup(func() { close(release) })
	return h
}

// wait returns once n deliveries have arrived; the deadline only bounds
// a test that would otherwise hang.
func (h *hanging) wait(t *testing.T, n int) {
	t.Helper()
	guard := time.After(30 * time.Second)
	for i := range n {
		select {
		case <-h.arrived:
		case <-guard:
			t.Fatalf("the hanging receiver got %d of %d deliveries", i, n)
		}
	}
}

// slowTimeout keeps every hanging delivery in flight for the whole test.
func slowTimeout(o *webhook.Options) { o.Timeout = 10 * time.Minute }

// With the oldest deliveries in flight to a receiver that hangs, the
// next rounds go past them: the rest of its own deliveries start, and
// another hook's event goes out at once.
func TestHangingReceiverHoldsUpOnlyItsOwn(t *testing.T) {
	stuck, healthy := newHanging(t), newReceiver(t)
	f := startWith(t, slowTimeout,
		webhook.Hook{URL: stuck.srv.URL, Secret: secret, Events: []string{model.EventTokenCreated}},
		webhook.Hook{URL: healthy.srv.URL, Secret: secret, Events: []string{model.EventTokenRevoked}})
	const tokens = 40 // more than one round claims
	var ids []string
	for i := range tokens {
		ids = append(ids, f.createToken(t, fmt.Sprintf("t%02d", i)))
	}
	stuck.wait(t, 32) // the first round's, all hanging now
	if err := f.accounts.RevokeToken(account.Actor{Name: "alice"}, "alice", ids[0]); err != nil {
		t.Fatal(err)
	}
	got := healthy.waitEvents(t, 1)
	if got[0].Type != model.EventTokenRevoked || got[0].TokenID != ids[0] {
		t.Fatalf("the healthy hook got %+v, want the revocation", got[0])
	}
	stuck.wait(t, tokens-32) // the hanging hook's other tokens are not held up either
}

// With every delivery slot taken by a receiver that hangs, a server
// claims nothing more: the rest stays free for other replicas.
func TestFullSlotsLeaveTheRestToOthers(t *testing.T) {
	stuck := newHanging(t)
	f := startWith(t, slowTimeout, webhook.Hook{URL: stuck.srv.URL, Secret: secret, Events: []string{model.EventTokenCreated}})
	const tokens, slots = 70, 64
	for i := range tokens {
		f.createToken(t, fmt.Sprintf("t%02d", i))
	}
	stuck.wait(t, slots)
	rest, err := f.store.ClaimWebhooks("another-replica", time.Now(), time.Minute, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != tokens-slots {
		t.Fatalf("another replica could claim %d deliveries, want the %d this one has no slot for", len(rest), tokens-slots)
	}
}
