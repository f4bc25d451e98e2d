package model

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"time"
)

// QueuedWebhook is one delivery of an event to one webhook, waiting in the
// store's queue (package webhook delivers it). The queue is persistent so
// that a crash or a restart loses no event, and shared by every replica of
// an etcd deployment, which take deliveries by claiming them.
type QueuedWebhook struct {
	// ID is given by EnqueueWebhooks: increasing in the order of
	// enqueueing, so the queue is read oldest first.
	ID uint64 `json:"id"`
	// Hook names the webhook (a digest of its URL: no secret is stored).
	Hook string `json:"hook"`
	// Key orders deliveries: of one Hook and Key (a token id, or a
	// user), none is claimed while an older one is queued.
	Key string `json:"key"`
	// EventID identifies the event, the same for every hook it goes to.
	EventID string `json:"event_id"`
	// Body is the JSON to deliver, signed when sent.
	Body       []byte    `json:"body"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	// Attempts counts failed deliveries; NextTry is the earliest time of
	// the next one.
	Attempts int       `json:"attempts"`
	NextTry  time.Time `json:"next_try"`
	// ClaimedBy is the deliverer that holds the claim, until ClaimedUntil.
	ClaimedBy    string    `json:"claimed_by,omitempty"`
	ClaimedUntil time.Time `json:"claimed_until,omitzero"`
}

// WebhookQueue is the part of Store that holds webhook deliveries.
type WebhookQueue interface {
	// EnqueueWebhooks appends items (their IDs are assigned, in order)
	// in one transaction.
	EnqueueWebhooks(items []QueuedWebhook) error
	// ClaimWebhooks claims up to limit deliveries for owner until
	// now+lease and returns them oldest first. A delivery is claimed
	// when it is due (NextTry not after now), not one that busy says
	// owner is sending now, within its hook's budget (busy.PerHook less
	// what owner is sending of that hook), not claimed by another owner
	// whose claim is still running (an owner's other claims are claimed
	// again: a restarted process takes back what it held), and the
	// oldest queued one of its Hook and Key: a delivery being sent, or
	// over budget, still holds back the later ones of its Hook and Key.
	ClaimWebhooks(owner string, now time.Time, lease time.Duration, limit int, busy WebhookBusy) ([]QueuedWebhook, error)
	// AckWebhook removes a delivery that owner holds (done); a missing
	// one is not an error. ErrNotFound: another owner holds it now (it
	// took the delivery over after owner's lease ended, and is sending
	// it): removing it would let the next of its Hook and Key go out
	// while this one is still being sent.
	AckWebhook(id uint64, owner string) error
	// RescheduleWebhook counts a failed attempt of a delivery that owner
	// holds, releases the claim and sets its next try. ErrNotFound: the
	// delivery is gone or another owner holds it now.
	RescheduleWebhook(id uint64, owner string, next time.Time) error
	// DropWebhooks removes the deliveries enqueued before before and
	// returns how many it removed per hook.
	DropWebhooks(before time.Time) (map[string]int, error)
	// WebhookQueueDepth returns how many deliveries are queued per hook.
	WebhookQueueDepth() (map[string]int, error)
}

// WebhookBusy is what a deliverer is sending now, told to ClaimWebhooks
// so that the store hands out (and leases) only what it will start.
type WebhookBusy struct {
	// Sending holds the IDs being sent, each with its Hook: they are not
	// claimed again, and count against their hook's PerHook.
	Sending map[uint64]string
	// PerHook, when positive, caps how many deliveries of one hook are
	// in flight: a claim takes at most PerHook less the hook's Sending.
	PerHook int
}

// WebhookHeads finds, in one pass over a queue oldest first, the
// deliveries that ClaimWebhooks may claim; both backends use it, so the
// ordering rule and the per-hook budget are written once.
type WebhookHeads struct {
	busy WebhookBusy
	seen map[string]bool
	used map[string]int // per hook: in flight plus claimed in this pass
}

// NewWebhookHeads starts a pass of a claim made while busy. Start one
// for each attempt of a claim: the pass counts what it claimed.
func NewWebhookHeads(busy WebhookBusy) *WebhookHeads {
	h := &WebhookHeads{busy: busy, seen: map[string]bool{}, used: map[string]int{}}
	for _, hook := range busy.Sending {
		h.used[hook]++
	}
	return h
}

// Claimable reports whether owner may claim it at now, and counts it
// against its hook's budget if so: the caller claims every delivery it
// says yes to. Call it for every queued delivery in order: the first of
// each hook and key is its head, and only a head is claimable, whether
// or not it is due, being sent or over budget.
func (h *WebhookHeads) Claimable(it QueuedWebhook, owner string, now time.Time) bool {
	k := it.Hook + "\x00" + it.Key
	if h.seen[k] {
		return false
	}
	h.seen[k] = true
	if _, sending := h.busy.Sending[it.ID]; sending || it.NextTry.After(now) {
		return false
	}
	if h.busy.PerHook > 0 && h.used[it.Hook] >= h.busy.PerHook {
		return false
	}
	if it.ClaimedBy != "" && it.ClaimedBy != owner && it.ClaimedUntil.After(now) {
		return false
	}
	h.used[it.Hook]++
	return true
}

// WebhookID is a hook's name in the store: a digest of its URL, so that
// the queue holds no credential a URL may carry.
func WebhookID(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return hex.EncodeToString(sum[:8])
}

// WebhookName is how logs, metrics and messages name a hook: scheme and
// host, and, when the URL has a path, the hook's ID in place of it. Many
// receivers put their secret in the path (https://hooks.example/T0/B0/KEY)
// or the query, so neither is ever shown.
func WebhookName(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "hook " + WebhookID(rawURL)
	}
	name := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return name + "/… (" + WebhookID(rawURL) + ")"
	}
	return name + u.Path
}
