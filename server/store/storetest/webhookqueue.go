package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

var webhookQueueTests = []subtest{
	{"ClaimsInOrderWithinLimit", testWebhookClaimOrder},
	{"OnePerHookAndKey", testWebhookHeads},
	{"ClaimLease", testWebhookLease},
	{"RescheduleCountsAndDelays", testWebhookReschedule},
	{"DropAndDepth", testWebhookDropDepth},
	{"ConcurrentClaimsDisjoint", testWebhookConcurrentClaims},
	{"ClaimSkipsExcluded", testWebhookClaimExclude},
	{"ClaimKeepsHookBudget", testWebhookClaimBudget},
	{"AckChecksOwner", testWebhookAckOwner},
}

func queued(hook, key string, at time.Time) model.QueuedWebhook {
	return model.QueuedWebhook{Hook: hook, Key: key, EventID: fmt.Sprintf("ev-%s-%s", hook, key),
		Body: []byte(`{"type":"token.created"}`), EnqueuedAt: at, NextTry: at}
}

func mustEnqueue(t *testing.T, s model.Store, items ...model.QueuedWebhook) {
	t.Helper()
	if err := s.EnqueueWebhooks(items); err != nil {
		t.Fatalf("EnqueueWebhooks: %v", err)
	}
}

func mustClaim(t *testing.T, s model.Store, owner string, at time.Time, limit int) []model.QueuedWebhook {
	t.Helper()
	got, err := s.ClaimWebhooks(owner, at, time.Minute, limit, model.WebhookBusy{})
	if err != nil {
		t.Fatalf("ClaimWebhooks(%s): %v", owner, err)
	}
	return got
}

func keysOf(list []model.QueuedWebhook) []string {
	out := make([]string, len(list))
	for i, it := range list {
		out[i] = it.Hook + "/" + it.Key
	}
	return out
}

func testWebhookClaimOrder(t *testing.T, s model.Store) {
	at := now()
	for i := range 5 {
		mustEnqueue(t, s, queued("h", fmt.Sprintf("k%d", i), at))
	}
	got := mustClaim(t, s, "a", at, 3)
	if fmt.Sprint(keysOf(got)) != "[h/k0 h/k1 h/k2]" {
		t.Fatalf("first claim = %v, want h/k0..k2 in order", keysOf(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("IDs not increasing: %d then %d", got[i-1].ID, got[i].ID)
		}
	}
	if string(got[0].Body) != `{"type":"token.created"}` || got[0].EventID != "ev-h-k0" || !got[0].EnqueuedAt.Equal(at) {
		t.Fatalf("claimed item changed: %+v", got[0])
	}
	if got[0].ClaimedBy != "a" || !got[0].ClaimedUntil.Equal(at.Add(time.Minute)) {
		t.Fatalf("claim = %q until %s, want a until %s", got[0].ClaimedBy, got[0].ClaimedUntil, at.Add(time.Minute))
	}
	rest := mustClaim(t, s, "b", at, 10)
	if fmt.Sprint(keysOf(rest)) != "[h/k3 h/k4]" {
		t.Fatalf("second owner claimed %v, want the two unclaimed", keysOf(rest))
	}
}

func testWebhookHeads(t *testing.T, s model.Store) {
	at := now()
	mustEnqueue(t, s, queued("h", "tok1", at), queued("h", "tok1", at), queued("h2", "tok1", at), queued("h", "tok2", at))
	got := mustClaim(t, s, "a", at, 10)
	if fmt.Sprint(keysOf(got)) != "[h/tok1 h2/tok1 h/tok2]" {
		t.Fatalf("claimed %v, want the head of each hook and key", keysOf(got))
	}
	if again := mustClaim(t, s, "b", at, 10); len(again) != 0 {
		t.Fatalf("another owner claimed %v while the heads are held", keysOf(again))
	}
	if err := s.AckWebhook(got[0].ID, "a"); err != nil {
		t.Fatal(err)
	}
	next := mustClaim(t, s, "b", at, 10)
	if len(next) != 1 || next[0].Key != "tok1" || next[0].Hook != "h" || next[0].ID <= got[0].ID {
		t.Fatalf("after the ack claimed %v, want the second h/tok1", keysOf(next))
	}
	if err := s.AckWebhook(got[0].ID, "a"); err != nil {
		t.Fatalf("second ack of one delivery: %v, want nil", err)
	}
}

func testWebhookLease(t *testing.T, s model.Store) {
	at := now()
	mustEnqueue(t, s, queued("h", "k", at))
	if got := mustClaim(t, s, "a", at, 10); len(got) != 1 {
		t.Fatalf("claimed %d, want 1", len(got))
	}
	if got := mustClaim(t, s, "b", at.Add(59*time.Second), 10); len(got) != 0 {
		t.Fatal("another owner claimed a delivery within its lease")
	}
	if got := mustClaim(t, s, "a", at.Add(time.Second), 10); len(got) != 1 {
		t.Fatal("the owner could not claim its own delivery again (a restarted process)")
	}
	got := mustClaim(t, s, "b", at.Add(2*time.Minute), 10)
	if len(got) != 1 || got[0].ClaimedBy != "b" {
		t.Fatalf("after the lease ended another owner claimed %v", got)
	}
	if err := s.RescheduleWebhook(got[0].ID, "a", at); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("reschedule by the owner that lost the claim: %v, want ErrNotFound", err)
	}
}

func testWebhookReschedule(t *testing.T, s model.Store) {
	at := now()
	mustEnqueue(t, s, queued("h", "k", at), queued("h", "k", at))
	got := mustClaim(t, s, "a", at, 10)
	if len(got) != 1 {
		t.Fatalf("claimed %d, want 1 (one key)", len(got))
	}
	later := at.Add(10 * time.Second)
	if err := s.RescheduleWebhook(got[0].ID, "a", later); err != nil {
		t.Fatalf("RescheduleWebhook: %v", err)
	}
	if early := mustClaim(t, s, "a", at.Add(9*time.Second), 10); len(early) != 0 {
		t.Fatalf("claimed %v before the next try; the second of the key must wait too", keysOf(early))
	}
	again := mustClaim(t, s, "b", later, 10)
	if len(again) != 1 || again[0].ID != got[0].ID || again[0].Attempts != 1 || !again[0].NextTry.Equal(later) {
		t.Fatalf("at the next try claimed %+v, want the same delivery with 1 attempt", again)
	}
	if err := s.RescheduleWebhook(got[0].ID+100, "b", later); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("reschedule of a missing delivery: %v, want ErrNotFound", err)
	}
}

func testWebhookDropDepth(t *testing.T, s model.Store) {
	at := now()
	day := 24 * time.Hour
	mustEnqueue(t, s, queued("h1", "k", at.Add(-day-time.Second)), queued("h1", "k2", at.Add(-day-time.Second)),
		queued("h2", "k", at.Add(-day-time.Second)), queued("h1", "k", at))
	depth, err := s.WebhookQueueDepth()
	if err != nil || depth["h1"] != 3 || depth["h2"] != 1 {
		t.Fatalf("depth = %v, %v; want h1:3 h2:1", depth, err)
	}
	dropped, err := s.DropWebhooks(at.Add(-day))
	if err != nil || dropped["h1"] != 2 || dropped["h2"] != 1 || len(dropped) != 2 {
		t.Fatalf("DropWebhooks = %v, %v; want h1:2 h2:1", dropped, err)
	}
	depth, err = s.WebhookQueueDepth()
	if err != nil || depth["h1"] != 1 || depth["h2"] != 0 {
		t.Fatalf("depth after drop = %v, %v; want h1:1", depth, err)
	}
	got := mustClaim(t, s, "a", at, 10)
	if len(got) != 1 || !got[0].EnqueuedAt.Equal(at) {
		t.Fatalf("after the drop claimed %v, want the new one", keysOf(got))
	}
}

// Two replicas claiming at once never both get one delivery.
func testWebhookConcurrentClaims(t *testing.T, s model.Store) {
	at := now()
	var items []model.QueuedWebhook
	for i := range 40 {
		items = append(items, queued("h", fmt.Sprintf("k%02d", i), at))
	}
	mustEnqueue(t, s, items[:20]...)
	mustEnqueue(t, s, items[20:]...)
	var mu sync.Mutex
	seen := map[uint64]string{}
	var errs []error
	var wg sync.WaitGroup
	for _, owner := range []string{"a", "b", "c", "d"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				got, err := s.ClaimWebhooks(owner, at, time.Minute, 3, model.WebhookBusy{})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, it := range got {
					if prev, ok := seen[it.ID]; ok && prev != owner {
						errs = append(errs, fmt.Errorf("delivery %d claimed by %s and %s", it.ID, prev, owner))
					}
					seen[it.ID] = owner
				}
				mu.Unlock()
				for _, it := range got { // delivered
					if err := s.AckWebhook(it.ID, owner); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 40 {
		t.Fatalf("%d of 40 deliveries claimed", len(seen))
	}
}

// A deliverer excludes what it is sending: the claim goes past those to
// other keys, never to the next of an excluded key, and takes no more
// than the limit (the free delivery slots), leaving the rest to others.
func testWebhookClaimExclude(t *testing.T, s model.Store) {
	at := now()
	mustEnqueue(t, s, queued("h", "k0", at), queued("h", "k0", at), queued("h", "k1", at), queued("h", "k2", at))
	first := mustClaim(t, s, "a", at, 1)
	if fmt.Sprint(keysOf(first)) != "[h/k0]" {
		t.Fatalf("first claim = %v, want h/k0", keysOf(first))
	}
	sending := map[uint64]string{first[0].ID: "h"}
	got, err := s.ClaimWebhooks("a", at, time.Minute, 1, model.WebhookBusy{Sending: sending})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != "k1" {
		t.Fatalf("claim excluding the delivery in flight = %v, want only h/k1 (not h/k0 again, nor its next)", keysOf(got))
	}
	sending[got[0].ID] = "h"
	if got, err = s.ClaimWebhooks("a", at, time.Minute, 10, model.WebhookBusy{Sending: sending}); err != nil || fmt.Sprint(keysOf(got)) != "[h/k2]" {
		t.Fatalf("claim excluding two = %v, %v; want h/k2: the second h/k0 waits for the first", keysOf(got), err)
	}
	if err := s.AckWebhook(first[0].ID, "a"); err != nil {
		t.Fatal(err)
	}
	delete(sending, first[0].ID)
	got, err = s.ClaimWebhooks("a", at, time.Minute, 10, model.WebhookBusy{Sending: sending})
	if err != nil || len(got) != 2 || got[0].Key != "k0" || got[0].ID <= first[0].ID || got[1].Key != "k2" {
		t.Fatalf("after the ack claimed %v, %v; want the second h/k0 and h/k2 (not excluded)", keysOf(got), err)
	}
}

// An owner whose lease ended and whose delivery another owner took over
// cannot remove it: the next of its key would go out while the other
// still sends this one.
func testWebhookAckOwner(t *testing.T, s model.Store) {
	at := now()
	mustEnqueue(t, s, queued("h", "k", at), queued("h", "k", at))
	stalled := mustClaim(t, s, "a", at, 10)
	if len(stalled) != 1 {
		t.Fatalf("claimed %d, want 1", len(stalled))
	}
	later := at.Add(2 * time.Minute)
	taken := mustClaim(t, s, "b", later, 10)
	if len(taken) != 1 || taken[0].ID != stalled[0].ID {
		t.Fatalf("after the lease another owner claimed %v, want the same delivery", keysOf(taken))
	}
	if err := s.AckWebhook(stalled[0].ID, "a"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ack by the owner that lost the claim: %v, want ErrNotFound", err)
	}
	if got := mustClaim(t, s, "c", later, 10); len(got) != 0 {
		t.Fatalf("while b sends the first, c claimed %v: the stale ack removed it", keysOf(got))
	}
	if err := s.AckWebhook(taken[0].ID, "b"); err != nil {
		t.Fatalf("ack by the owner holding it: %v", err)
	}
	if err := s.AckWebhook(taken[0].ID, "b"); err != nil {
		t.Fatalf("ack of a delivery already gone: %v, want nil", err)
	}
	next := mustClaim(t, s, "c", later, 10)
	if len(next) != 1 || next[0].ID <= taken[0].ID {
		t.Fatalf("after the ack claimed %v, want the second of the key", keysOf(next))
	}
}

// A claim takes at most a hook's budget (PerHook less what the owner
// sends of it), oldest heads first, and gives the rest of the limit to
// other hooks; the order within a hook and key still holds; the budget
// is the owner's: another owner claims the rest.
func testWebhookClaimBudget(t *testing.T, s model.Store) {
	at := now()
	mustEnqueue(t, s, queued("slow", "k0", at), queued("slow", "k0", at), queued("slow", "k1", at),
		queued("slow", "k2", at), queued("slow", "k3", at), queued("fast", "f0", at), queued("slow", "k4", at),
		queued("fast", "f1", at), queued("fast", "f1", at), queued("fast", "f2", at))
	claim := func(limit int, sending map[uint64]string) []model.QueuedWebhook {
		t.Helper()
		got, err := s.ClaimWebhooks("a", at, time.Minute, limit, model.WebhookBusy{Sending: sending, PerHook: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range got {
			sending[it.ID] = it.Hook
		}
		return got
	}
	sending := map[uint64]string{}
	first := claim(5, sending)
	if fmt.Sprint(keysOf(first)) != "[slow/k0 slow/k1 slow/k2 fast/f0 fast/f1]" {
		t.Fatalf("claim with a budget of 3 per hook = %v, want 3 of slow (its oldest heads), then fast", keysOf(first))
	}
	if got := claim(10, sending); fmt.Sprint(keysOf(got)) != "[fast/f2]" {
		t.Fatalf("claim with those in flight = %v, want only fast/f2: slow has no budget left, the second fast/f1 waits", keysOf(got))
	}
	if err := s.AckWebhook(first[0].ID, "a"); err != nil {
		t.Fatal(err)
	}
	delete(sending, first[0].ID)
	if got := claim(10, sending); len(got) != 1 || got[0].Key != "k0" || got[0].ID <= first[0].ID {
		t.Fatalf("after slow/k0's ack claimed %v, want the second slow/k0 (the oldest head), not slow/k3", keysOf(got))
	}
	if got := mustClaim(t, s, "b", at, 10); fmt.Sprint(keysOf(got)) != "[slow/k3 slow/k4]" {
		t.Fatalf("another owner claimed %v, want what a's budget left", keysOf(got))
	}
}
