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

// startHangingAndHealthy starts a dispatcher with a hanging hook for
// token creations and a healthy one for revocations.
func startHangingAndHealthy(t *testing.T) (*hanging, *receiver, *fixture) {
	t.Helper()
	stuck, healthy := newHanging(t), newReceiver(t)
	f := startWith(t, slowTimeout,
		webhook.Hook{URL: stuck.srv.URL, Secret: secret, Events: []string{model.EventTokenCreated}},
		webhook.Hook{URL: healthy.srv.URL, Secret: secret, Events: []string{model.EventTokenRevoked}})
	return stuck, healthy, f
}

// revokeReaches revokes token id and waits for healthy to get the event.
func revokeReaches(t *testing.T, f *fixture, healthy *receiver, id string) {
	t.Helper()
	if err := f.accounts.RevokeToken(account.Actor{Name: "alice"}, "alice", id); err != nil {
		t.Fatal(err)
	}
	got := healthy.waitEvents(t, 1)
	if got[0].Type != model.EventTokenRevoked || got[0].TokenID != id {
		t.Fatalf("the healthy hook got %+v, want the revocation", got[0])
	}
}

// perHook is the dispatcher's cap on one hook's deliveries in flight
// (maxPerHook), and slots its cap on all (maxInflight).
const perHook, slots = 16, 64

// With the oldest deliveries in flight to a receiver that hangs, the
// next rounds go past them: the rest of its own deliveries start (up to
// its share of the slots), and another hook's event goes out at once.
func TestHangingReceiverHoldsUpOnlyItsOwn(t *testing.T) {
	stuck, healthy, f := startHangingAndHealthy(t)
	const tokens = perHook // each created while the earlier ones hang
	var ids []string
	for i := range tokens {
		ids = append(ids, f.createToken(t, fmt.Sprintf("t%02d", i)))
	}
	stuck.wait(t, tokens)
	revokeReaches(t, f, healthy, ids[0])
}

// A receiver that hangs with more tokens' events queued than there are
// slots gets only its share of them: another hook's event goes out
// while they hang, instead of waiting for their timeouts.
func TestHangingHookTakesOnlyItsShare(t *testing.T) {
	stuck, healthy, f := startHangingAndHealthy(t)
	const tokens = slots + 6 // enough to fill every slot without the cap
	var ids []string
	for i := range tokens {
		ids = append(ids, f.createToken(t, fmt.Sprintf("t%02d", i)))
	}
	stuck.wait(t, perHook)
	revokeReaches(t, f, healthy, ids[0])
	select { // all perHook still hang: no delivery of the hook can have ended
	case id := <-stuck.arrived:
		t.Fatalf("the hanging hook got delivery %s past its %d in flight", id, perHook)
	default:
	}
	rest, err := f.store.ClaimWebhooks("another-replica", time.Now(), time.Minute, 100, model.WebhookBusy{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != tokens-perHook {
		t.Fatalf("another replica could claim %d deliveries, want the %d past the hook's share", len(rest), tokens-perHook)
	}
}

// With every delivery slot taken by receivers that hang, a server claims
// nothing more: the rest stays free for other replicas.
func TestFullSlotsLeaveTheRestToOthers(t *testing.T) {
	stuck := newHanging(t)
	const hooks = slots/perHook + 1 // more hooks than it takes to fill the slots
	var hs []webhook.Hook
	for i := range hooks {
		hs = append(hs, webhook.Hook{URL: fmt.Sprintf("%s/h%d", stuck.srv.URL, i), Secret: secret, Events: []string{model.EventTokenCreated}})
	}
	f := startWith(t, slowTimeout, hs...)
	const tokens = perHook + 4 // hooks*tokens deliveries, more than the slots
	for i := range tokens {
		f.createToken(t, fmt.Sprintf("t%02d", i))
	}
	stuck.wait(t, slots)
	rest, err := f.store.ClaimWebhooks("another-replica", time.Now(), time.Minute, 100, model.WebhookBusy{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != hooks*tokens-slots {
		t.Fatalf("another replica could claim %d deliveries, want the %d this one has no slot for", len(rest), hooks*tokens-slots)
	}
}
