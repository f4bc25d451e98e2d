package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/portusproject/portus/server/model"
)

// claimBatch is how many deliveries one round claims at most, and
// maxInflight how many are sent at once. A round claims only as many as
// there are free slots and skips what this process is sending, so the
// deliveries it claims are all started, and a receiver that hangs holds
// up only its own.
//
// maxPerHook caps one hook's share of the slots, in the claim (so the
// store does not lease what would not start): a hanging receiver with
// many tokens' events at the head of the queue would otherwise fill all
// maxInflight slots, and every other hook would wait for its sends'
// timeouts round after round. 16 leaves 48 slots to the other hooks,
// and 16 parallel sends keep up with any receiver that answers.
const (
	claimBatch  = 32
	maxInflight = 64
	maxPerHook  = 16
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body
// under the hook's secret.
const SignatureHeader = "X-Portus-Signature"

// Sign returns the SignatureHeader value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Run delivers until ctx ends: a round whenever an event is published or
// a delivery ends, and at every poll interval (which also gives up
// deliveries older than MaxAge), and rounds back to back
// while they start deliveries. It returns when ctx ends, once the
// deliveries in flight have ended.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	defer d.wg.Wait()
	for {
		for ctx.Err() == nil && d.round(ctx) > 0 {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Giving up old deliveries is a write over the whole queue:
			// once per poll, not at every wake-up.
			d.dropOld()
		case <-d.wake:
		}
	}
}

// dropOld gives up deliveries older than MaxAge.
func (d *Dispatcher) dropOld() {
	dropped, err := d.o.Queue.DropWebhooks(d.o.Now().Add(-d.o.MaxAge))
	if err != nil {
		d.o.Log.Warn("webhook queue: dropping old deliveries failed", "err", err)
		return
	}
	for id, n := range dropped {
		name := d.nameOf(id)
		d.o.Log.Warn("webhook deliveries given up after failing for too long", "hook", name, "count", n, "max_age", d.o.MaxAge.String())
		if d.o.Metrics != nil {
			d.o.Metrics.Dropped(name, n)
		}
	}
}

// round claims what it has free slots for, past the deliveries in flight
// (a hanging receiver's must not fill every claim) and within each hook's
// maxPerHook, and starts sending them; it returns how many it started.
//
// The claim runs under mu: a delivery leaves inflight only after it was
// acknowledged or rescheduled, so a claim that excludes it sees it in
// flight, and one made after no longer finds it queued. Else a delivery
// that ended between the claim and the start would be sent twice.
func (d *Dispatcher) round(ctx context.Context) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	free := min(claimBatch, maxInflight-len(d.inflight))
	if free <= 0 {
		return 0
	}
	items, err := d.o.Queue.ClaimWebhooks(d.o.Owner, d.o.Now(), d.o.Lease, free,
		model.WebhookBusy{Sending: d.inflight, PerHook: maxPerHook})
	if err != nil {
		d.o.Log.Warn("webhook queue: claiming deliveries failed", "err", err)
		return 0
	}
	for _, it := range items {
		d.inflight[it.ID] = it.Hook
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.settle(it, d.send(ctx, it))
			d.mu.Lock()
			delete(d.inflight, it.ID)
			d.mu.Unlock()
			d.poke() // the token's next event may go now, and a slot is free
		}()
	}
	return len(items)
}

// settle removes a delivery that succeeded (or whose hook is gone from
// the configuration) and reschedules one that failed.
func (d *Dispatcher) settle(it model.QueuedWebhook, err error) {
	name := d.nameOf(it.Hook)
	if err == nil || errors.Is(err, errUnknownHook) {
		if err != nil {
			d.o.Log.Warn("webhook delivery dropped: its hook is no longer configured", "hook", it.Hook, "event_id", it.EventID)
		} else if d.o.Metrics != nil {
			d.o.Metrics.Delivered(name)
		}
		switch aerr := d.o.Queue.AckWebhook(it.ID, d.o.Owner); {
		case errors.Is(aerr, model.ErrNotFound):
			d.o.Log.Warn("webhook delivered after this server's claim ran out: another has taken it over and sends it again", "hook", name, "event_id", it.EventID)
		case aerr != nil:
			d.o.Log.Warn("webhook delivered but not removed from the queue: it will be sent again", "hook", name, "event_id", it.EventID, "err", aerr)
		}
		return
	}
	if d.o.Metrics != nil {
		d.o.Metrics.Failed(name)
	}
	next := d.o.Now().Add(d.backoff(it.Attempts))
	d.o.Log.Info("webhook delivery failed; retrying", "hook", name, "event_id", it.EventID,
		"attempt", it.Attempts+1, "next_try", next.UTC().Format(time.RFC3339), "err", err)
	if rerr := d.o.Queue.RescheduleWebhook(it.ID, d.o.Owner, next); rerr != nil && !errors.Is(rerr, model.ErrNotFound) {
		d.o.Log.Warn("webhook queue: rescheduling failed; the claim's lease ends it", "hook", name, "err", rerr)
	}
}

// backoff is MinBackoff doubled per earlier failure, at most MaxBackoff.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	if attempts > 30 {
		return d.o.MaxBackoff
	}
	return min(d.o.MinBackoff<<attempts, d.o.MaxBackoff)
}

var errUnknownHook = errors.New("no such hook")

// send makes one attempt; any answer but 2xx is a failure.
func (d *Dispatcher) send(ctx context.Context, it model.QueuedWebhook) error {
	h, ok := d.hooks[it.Hook]
	if !ok {
		return errUnknownHook
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(it.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Portus-Webhook/1")
	req.Header.Set("X-Portus-Event-Id", it.EventID)
	req.Header.Set("X-Portus-Delivery-Attempt", strconv.Itoa(it.Attempts+1))
	req.Header.Set(SignatureHeader, Sign(h.Secret, it.Body))
	resp, err := d.o.Client.Do(req)
	if err != nil {
		// The URL may hold a credential: say only what failed.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("sending: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return nil
}

func (d *Dispatcher) nameOf(id string) string {
	if h, ok := d.hooks[id]; ok {
		return h.Name()
	}
	return id
}

// Depth returns the queued deliveries per hook name, for metrics; -1 for
// every configured hook when the store cannot say.
func (d *Dispatcher) Depth() map[string]int {
	out := map[string]int{}
	depth, err := d.o.Queue.WebhookQueueDepth()
	for id, h := range d.hooks {
		if err != nil {
			out[h.Name()] = -1
			continue
		}
		out[h.Name()] = depth[id]
	}
	return out
}
