package model

import "time"

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
	// when it is due (NextTry not after now), not in exclude (the IDs
	// owner is sending now), not claimed by another owner whose claim is
	// still running (an owner's other claims are claimed again: a
	// restarted process takes back what it held), and the oldest queued
	// one of its Hook and Key: an excluded delivery still holds back the
	// later ones of its Hook and Key.
	ClaimWebhooks(owner string, now time.Time, lease time.Duration, limit int, exclude map[uint64]bool) ([]QueuedWebhook, error)
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

// WebhookHeads finds, in one pass over a queue oldest first, the
// deliveries that ClaimWebhooks may claim; both backends use it, so the
// ordering rule is written once.
type WebhookHeads struct{ seen map[string]bool }

// NewWebhookHeads starts a pass.
func NewWebhookHeads() *WebhookHeads { return &WebhookHeads{seen: map[string]bool{}} }

// Claimable reports whether owner may claim it at now, not being in
// exclude. Call it for every queued delivery in order: the first of each
// hook and key is its head, and only a head is claimable, whether or not
// it is due or excluded.
func (h *WebhookHeads) Claimable(it QueuedWebhook, owner string, now time.Time, exclude map[uint64]bool) bool {
	k := it.Hook + "\x00" + it.Key
	if h.seen[k] {
		return false
	}
	h.seen[k] = true
	if exclude[it.ID] || it.NextTry.After(now) {
		return false
	}
	return it.ClaimedBy == "" || it.ClaimedBy == owner || !it.ClaimedUntil.After(now)
}
