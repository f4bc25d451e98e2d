// Package webhook owns the delivery of model.Events to the webhooks of
// the configuration. Publish, which the account service calls on the
// request's goroutine, only writes the event to the store's persistent
// queue (model.WebhookQueue), one delivery per subscribed hook; Run
// delivers from that queue in the background: a JSON body signed with
// HMAC-SHA256 under the hook's secret, retried with exponential backoff
// for 24 hours, in order per hook and token, so that a crash, a restart
// or a receiver that is down loses nothing.
//
// Delivery is at least once: a process killed after the receiver accepted
// a delivery but before it was removed from the queue delivers it again
// after its restart, and with etcd a replica stalled past its claim's
// lease may deliver what another has taken over. Every body carries the
// event's id (also in X-Portus-Event-Id) for receivers to deduplicate.
package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Hook is one configured webhook.
type Hook struct {
	URL    string
	Secret []byte
	// Events are the model.Event types sent to it.
	Events []string
}

// ID is the hook's name in the store (model.WebhookID).
func (h Hook) ID() string { return model.WebhookID(h.URL) }

// Name is the hook's name in logs and metrics (model.WebhookName): no
// path, query or credentials, where receivers keep their secrets.
func (h Hook) Name() string { return model.WebhookName(h.URL) }

// Recorder counts deliveries per hook name (package metrics).
type Recorder interface {
	Delivered(hook string)
	Failed(hook string)
	Dropped(hook string, n int)
}

// Options configure a Dispatcher. Zero durations take the defaults.
type Options struct {
	Hooks []Hook
	Queue model.WebhookQueue
	// Owner names this process in its claims: stable across restarts
	// of one replica, so that a restarted process takes back its claims
	// at once, and different between replicas.
	Owner   string
	Log     *slog.Logger
	Metrics Recorder
	Now     func() time.Time
	// Client sends deliveries (default: one with Timeout, no redirects).
	Client *http.Client
	// Poll is how often the queue is read when nothing wakes it (1 s);
	// MinBackoff doubles after each failure up to MaxBackoff (1 s, 5 min);
	// MaxAge is how long a delivery is retried (24 h); Lease bounds a
	// claim (2 min; at least twice Timeout, as a claim is not renewed
	// while it is sent); Timeout one attempt (10 s).
	Poll, MinBackoff, MaxBackoff, MaxAge, Lease, Timeout time.Duration
}

// Dispatcher queues and delivers events.
type Dispatcher struct {
	o     Options
	hooks map[string]Hook // by ID
	wake  chan struct{}

	mu       sync.Mutex
	inflight map[uint64]string // deliveries being sent: queue ID → hook ID
	wg       sync.WaitGroup
}

// New returns a dispatcher; it delivers only while Run runs.
func New(o Options) *Dispatcher {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Poll, time.Second)
	def(&o.MinBackoff, time.Second)
	def(&o.MaxBackoff, 5*time.Minute)
	def(&o.MaxAge, 24*time.Hour)
	def(&o.Lease, 2*time.Minute)
	def(&o.Timeout, 10*time.Second)
	o.Lease = max(o.Lease, 2*o.Timeout)
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout,
			// A redirect is the receiver's mistake: follow none, so that
			// a signed body never goes where it was not configured to.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	d := &Dispatcher{o: o, hooks: map[string]Hook{}, wake: make(chan struct{}, 1), inflight: map[uint64]string{}}
	for _, h := range o.Hooks {
		d.hooks[h.ID()] = h
	}
	return d
}

// Payload is the JSON body of a delivery: the event and its id.
type Payload struct {
	ID string `json:"id"`
	model.Event
}

// Publish queues e for every hook subscribed to its type, under e.ID or
// else a new random id. It writes the store once (its own transaction,
// after the change that caused e was committed) and delivers nothing. A
// store failure is logged and returned: most callers have made their
// change already and can only log it, but one that can make the event
// again (the expiry sweep) must not record it as told.
func (d *Dispatcher) Publish(e model.Event) error {
	id := e.ID
	if id == "" {
		var err error
		if id, err = newEventID(); err != nil {
			d.o.Log.Error("webhook event not queued: no event id", "type", e.Type, "err", err)
			return fmt.Errorf("queueing a %s webhook event: %w", e.Type, err)
		}
	}
	body, err := json.Marshal(Payload{ID: id, Event: e})
	if err != nil {
		d.o.Log.Error("webhook event not queued", "type", e.Type, "err", err)
		return fmt.Errorf("queueing a %s webhook event: %w", e.Type, err)
	}
	now := d.o.Now().UTC()
	var items []model.QueuedWebhook
	for _, h := range d.o.Hooks {
		if slices.Contains(h.Events, e.Type) {
			items = append(items, model.QueuedWebhook{Hook: h.ID(), Key: orderKey(e), EventID: id,
				Body: body, EnqueuedAt: now, NextTry: now})
		}
	}
	if len(items) == 0 {
		return nil
	}
	if err := d.o.Queue.EnqueueWebhooks(items); err != nil {
		d.o.Log.Error("webhook event not queued: the store failed", "type", e.Type, "event_id", id, "err", err)
		return fmt.Errorf("queueing a %s webhook event: %w", e.Type, err)
	}
	d.poke()
	return nil
}

// poke wakes Run for a round, unless one is already due.
func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// orderKey is what deliveries are ordered by: the token, or else the user.
func orderKey(e model.Event) string {
	if e.TokenID != "" {
		return "token:" + e.TokenID
	}
	return "user:" + e.User
}

func newEventID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// SetMetrics sets the recorder after New, for metrics that need the
// dispatcher (its Depth) to be registered.
func (d *Dispatcher) SetMetrics(m Recorder) { d.o.Metrics = m }
