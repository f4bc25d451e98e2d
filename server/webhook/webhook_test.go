package webhook_test

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/boltstore"
	"github.com/portusproject/portus/server/webhook"
)

var secret = []byte("0123456789abcdef-webhook-secret")

// receiver is a local webhook endpoint that checks every signature and
// records what it accepted, in arrival order.
type receiver struct {
	t    *testing.T
	srv  *httptest.Server
	down atomic.Bool // answer 503 to everything
	// hold, when set, blocks every delivery until it is closed.
	hold chan struct{}

	mu       sync.Mutex
	got      []webhook.Payload
	attempts int
	badSigs  int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if !hmac.Equal([]byte(req.Header.Get(webhook.SignatureHeader)), []byte(webhook.Sign(secret, body))) {
		r.badSigs++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.ID == "" || p.ID != req.Header.Get("X-Portus-Event-Id") {
		r.t.Errorf("delivery %q: id %q, header %q, err %v", body, p.ID, req.Header.Get("X-Portus-Event-Id"), err)
	}
	if strings.Contains(string(body), "ptk_") || strings.Contains(strings.ToLower(string(body)), "hash") {
		r.t.Errorf("delivery holds a secret or hash: %s", body)
	}
	r.got = append(r.got, p)
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) events() []webhook.Payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.Payload(nil), r.got...)
}

func (r *receiver) attemptCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

// waitEvents waits until the receiver accepted n deliveries.
func (r *receiver) waitEvents(t *testing.T, n int) []webhook.Payload {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if got := r.events(); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("receiver got %d of %d events", len(r.events()), n)
	return nil
}

type counts struct {
	mu                         sync.Mutex
	delivered, failed, dropped int
}

func (c *counts) Delivered(string)        { c.mu.Lock(); c.delivered++; c.mu.Unlock() }
func (c *counts) Failed(string)           { c.mu.Lock(); c.failed++; c.mu.Unlock() }
func (c *counts) Dropped(_ string, n int) { c.mu.Lock(); c.dropped += n; c.mu.Unlock() }

type fixture struct {
	store    *boltstore.Store
	accounts *account.Service
	hooks    *webhook.Dispatcher
	metrics  *counts
	log      *testutil.LockedBuffer
}

// start runs an account service whose events go to hooks on a real bbolt
// file, with the dispatcher delivering in the background and fast backoff.
func start(t *testing.T, hooks ...webhook.Hook) *fixture {
	t.Helper()
	return startWith(t, nil, hooks...)
}

// startWith is start with options that change adjusts.
func startWith(t *testing.T, change func(*webhook.Options), hooks ...webhook.Hook) *fixture {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "portus.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, metrics: &counts{}, log: &testutil.LockedBuffer{}}
	log := slog.New(slog.NewTextHandler(f.log, nil))
	o := webhook.Options{Hooks: hooks, Queue: st, Owner: "test", Log: log, Metrics: f.metrics,
		Poll: 20 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	if change != nil {
		change(&o)
	}
	f.hooks = webhook.New(o)
	f.accounts, err = account.New(st, account.Options{Pepper: make([]byte, 32), Events: f.hooks.Publish, MaxTokens: 100,
		PasswordParams: account.PasswordParams{Memory: 64, Time: 1, Threads: 1}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.hooks.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
		if t.Failed() {
			t.Logf("log:\n%s", f.log.String())
		}
	})
	if _, err := f.accounts.CreateUser(account.Actor{Name: "portus-cli"}, "alice", "correct horse", false, false); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) createToken(t *testing.T, name string) string {
	t.Helper()
	tok, err := f.accounts.CreateToken(account.Actor{Name: "alice", IP: "192.0.2.1"}, "alice", account.NewToken{Name: name, Scope: "pull", Via: "api"})
	if err != nil {
		t.Fatal(err)
	}
	return tok.ID
}

func TestSignedPayloadOfSubscribedEvents(t *testing.T) {
	all, revokes := newReceiver(t), newReceiver(t)
	f := start(t, webhook.Hook{URL: all.srv.URL + "/all?key=k", Secret: secret, Events: model.EventTypes},
		webhook.Hook{URL: revokes.srv.URL, Secret: secret, Events: []string{model.EventTokenRevoked}})
	id := f.createToken(t, "ci")
	if err := f.accounts.RevokeToken(account.Actor{Name: "alice", IP: "192.0.2.1"}, "alice", id); err != nil {
		t.Fatal(err)
	}
	got := all.waitEvents(t, 2)
	if got[0].Type != model.EventTokenCreated || got[1].Type != model.EventTokenRevoked || got[1].Reason != "user" ||
		got[0].TokenID != id || got[0].TokenName != "ci" || got[0].User != "alice" || got[0].Address != "192.0.2.1" || got[0].Time.IsZero() {
		t.Fatalf("events = %+v, want token.created then token.revoked of ci", got)
	}
	only := revokes.waitEvents(t, 1)
	if len(only) != 1 || only[0].Type != model.EventTokenRevoked || only[0].ID != got[1].ID {
		t.Fatalf("the token.revoked hook got %+v, want only the revocation with the same event id", only)
	}
	// A body changed on the way no longer matches its signature.
	body, _ := json.Marshal(got[0])
	if webhook.Sign(secret, body) == webhook.Sign(secret, append(body, ' ')) || webhook.Sign([]byte("other secret 0123"), body) == webhook.Sign(secret, body) {
		t.Fatal("signature does not depend on the body and the secret")
	}
	all.mu.Lock()
	revokes.mu.Lock()
	bad := all.badSigs + revokes.badSigs
	all.mu.Unlock()
	revokes.mu.Unlock()
	if bad != 0 {
		t.Fatalf("%d deliveries with a bad signature", bad)
	}
	if strings.Contains(f.log.String(), "key=k") {
		t.Fatal("the log holds the hook URL's query")
	}
}

// Publishing only queues: a receiver that hangs does not hold up the
// request that caused the event.
func TestPublishNeverWaitsForTheReceiver(t *testing.T) {
	r := newReceiver(t)
	r.hold = make(chan struct{})
	f := start(t, webhook.Hook{URL: r.srv.URL, Secret: secret, Events: model.EventTypes})
	for i := range 5 {
		f.createToken(t, "t"+string(rune('a'+i)))
	}
	close(r.hold) // only now can any delivery finish
	r.waitEvents(t, 5)
}

// The receiver fails the first attempt of every event; each token's
// events still arrive in the order they happened.
func TestOrderPerTokenWithRetries(t *testing.T) {
	r := newReceiver(t)
	var seen sync.Map
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, again := seen.LoadOrStore(req.Header.Get("X-Portus-Event-Id"), true); !again {
			http.Error(w, "try later", http.StatusBadGateway)
			return
		}
		r.serve(w, req)
	}))
	t.Cleanup(flaky.Close)
	f := start(t, webhook.Hook{URL: flaky.URL, Secret: secret, Events: model.EventTypes})
	var ids []string
	for i := range 6 {
		ids = append(ids, f.createToken(t, "tok"+string(rune('a'+i))))
	}
	for _, id := range ids {
		if err := f.accounts.RevokeToken(account.Actor{Name: "alice"}, "alice", id); err != nil {
			t.Fatal(err)
		}
	}
	got := r.waitEvents(t, 12)
	created := map[string]bool{}
	for _, e := range got {
		switch e.Type {
		case model.EventTokenCreated:
			created[e.TokenID] = true
		case model.EventTokenRevoked:
			if !created[e.TokenID] {
				t.Fatalf("token %s: token.revoked delivered before token.created", e.TokenID)
			}
		}
	}
	f.metrics.mu.Lock()
	failed := f.metrics.failed
	f.metrics.mu.Unlock()
	if failed < 12 {
		t.Fatalf("failed attempts counted: %d, want at least 12", failed)
	}
}

// A receiver that is down for a while gets every event once it is back.
func TestReceiverDownThenBack(t *testing.T) {
	r := newReceiver(t)
	r.down.Store(true)
	f := start(t, webhook.Hook{URL: r.srv.URL, Secret: secret, Events: model.EventTypes})
	want := map[string]bool{}
	for i := range 20 {
		want[f.createToken(t, "t"+string(rune('a'+i)))] = true
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.attemptCount() < 10 {
		if time.Now().After(deadline) {
			t.Fatal("no delivery attempts while the receiver is down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if depth := f.hooks.Depth()[r.srv.URL]; depth != 20 {
		t.Fatalf("queue depth while down = %d, want 20 (%v)", depth, f.hooks.Depth())
	}
	r.down.Store(false)
	got := r.waitEvents(t, 20)
	for _, e := range got {
		delete(want, e.TokenID)
	}
	if len(want) != 0 {
		t.Fatalf("events of %d tokens never arrived", len(want))
	}
	for d := f.hooks.Depth()[r.srv.URL]; d != 0; d = f.hooks.Depth()[r.srv.URL] {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("queue depth after delivery = %d", d)
		}
		time.Sleep(10 * time.Millisecond) // accepted, not yet acknowledged
	}
}

// Ten wrong passwords lock the account and tell the hooks.
func TestUserLockedEvent(t *testing.T) {
	r := newReceiver(t)
	f := start(t, webhook.Hook{URL: r.srv.URL, Secret: secret, Events: []string{model.EventUserLocked}})
	for range 10 {
		f.accounts.Throttle().Fail("alice", "198.51.100.7")
		f.accounts.Throttle().Fail("nobody", "198.51.100.7")
	}
	got := r.waitEvents(t, 1)
	time.Sleep(100 * time.Millisecond) // a second event would have come by now
	if got = r.events(); len(got) != 1 || got[0].Type != model.EventUserLocked || got[0].User != "alice" || got[0].Address != "198.51.100.7" {
		t.Fatalf("events = %+v, want one user.locked of alice (none for a name without an account)", got)
	}
}

// A leak report's revocation reaches the hooks with reason and source.
func TestLeakedRevocationEvent(t *testing.T) {
	r := newReceiver(t)
	f := start(t, webhook.Hook{URL: r.srv.URL, Secret: secret, Events: []string{model.EventTokenRevoked}})
	tok, err := f.accounts.CreateToken(account.Actor{Name: "alice"}, "alice", account.NewToken{Name: "ci", Scope: "pull"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.accounts.RevokeLeaked("203.0.113.5", []string{tok.Token}, "https://code.example.com/leak"); err != nil {
		t.Fatal(err)
	}
	got := r.waitEvents(t, 1)
	if got[0].Reason != "leaked" || got[0].Source != "https://code.example.com/leak" || got[0].TokenID != tok.ID || got[0].Address != "203.0.113.5" {
		t.Fatalf("event = %+v, want token.revoked with reason leaked and the source", got[0])
	}
}

// A delivery that keeps failing past MaxAge is dropped and counted.
func TestGivenUpAfterMaxAge(t *testing.T) {
	r := newReceiver(t)
	r.down.Store(true)
	f := startWith(t, func(o *webhook.Options) { o.MaxAge = 300 * time.Millisecond },
		webhook.Hook{URL: r.srv.URL, Secret: secret, Events: model.EventTypes})
	f.createToken(t, "ci")
	deadline := time.Now().Add(20 * time.Second)
	for {
		f.metrics.mu.Lock()
		dropped := f.metrics.dropped
		f.metrics.mu.Unlock()
		if dropped == 1 && f.hooks.Depth()[r.srv.URL] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dropped %d, depth %d; want the delivery given up", dropped, f.hooks.Depth()[r.srv.URL])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(f.log.String(), "given up") {
		t.Fatal("giving up was not logged")
	}
}
