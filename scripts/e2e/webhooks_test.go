package e2e

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/webhook"
	"github.com/portusproject/portus/shared/apitypes"
)

// Webhooks survive a crash: `portus serve` is killed with SIGKILL while
// its receiver hangs on the first deliveries and the rest wait in the
// queue; after a restart on the same data directory the receiver gets
// every event, each token's in order, each once, all correctly signed.

// hookReceiver hangs while held, and records signed deliveries after.
type hookReceiver struct {
	secret  []byte
	mu      sync.Mutex
	held    chan struct{} // closed: deliveries are accepted
	holding bool
	tries   int
	badSig  int
	got     []webhook.Payload
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.tries++
	holding, held := r.holding, r.held
	r.mu.Unlock()
	if holding {
		<-held // until the test lets go; that process is dead by then
		http.Error(w, "too late", http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !hmac.Equal([]byte(req.Header.Get(webhook.SignatureHeader)), []byte(webhook.Sign(r.secret, body))) {
		r.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.got = append(r.got, p)
	w.WriteHeader(http.StatusOK)
}

func (r *hookReceiver) snapshot() (tries int, got []webhook.Payload) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries, append([]webhook.Payload(nil), r.got...)
}

func TestWebhooksSurviveSIGKILL(t *testing.T) {
	dir := t.TempDir()
	rcv := &hookReceiver{secret: []byte("e2e-webhook-secret-0123456789"), held: make(chan struct{}), holding: true}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		rcv.mu.Lock()
		if rcv.holding {
			close(rcv.held)
			rcv.holding = false
		}
		rcv.mu.Unlock()
	})
	secretFile := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secretFile, append(rcv.secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "portus.yaml")
	yaml := fmt.Sprintf("webhooks:\n  - url: %s/hook\n    secret_file: %s\n    events: [token.created, token.revoked]\n", srv.URL, secretFile)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	p := startPortusOn(t, data, "--config", cfg, "--max-tokens", "20")
	p.createUser(t, "alice", "alice-password-1", false)

	var ids []string
	for i := range 10 {
		var tok apitypes.CreatedToken
		if code := p.apiJSON(t, http.MethodPost, "/api/v1/tokens", "alice", "alice-password-1", apitypes.CreateTokenRequest{Name: fmt.Sprintf("t%d", i)}, &tok); code != http.StatusCreated {
			t.Fatalf("creating token %d: %d", i, code)
		}
		ids = append(ids, tok.ID)
	}
	for _, id := range ids[:5] {
		if code := p.apiJSON(t, http.MethodDelete, "/api/v1/tokens/"+id, "alice", "alice-password-1", nil, nil); code != http.StatusNoContent {
			t.Fatalf("revoking %s: %d", id, code)
		}
	}
	waitFor(t, nil, func() bool { n, _ := rcv.snapshot(); return n >= 1 }, "a first delivery attempt")
	p.kill()

	rcv.mu.Lock()
	rcv.holding = false
	close(rcv.held)
	rcv.mu.Unlock()
	p = startPortusOn(t, data, "--config", cfg, "--max-tokens", "20")

	want := 15 // 10 created, 5 revoked
	deadline := time.Now().Add(60 * time.Second)
	var got []webhook.Payload
	for {
		_, got = rcv.snapshot()
		if len(got) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // room for a duplicate to show
	tries, got := rcv.snapshot()
	t.Logf("%d events delivered after the restart, %d attempts in all", len(got), tries)
	checkHookEvents(t, got, ids, want)
	if rcv.badSig != 0 {
		t.Fatalf("%d deliveries with a bad signature", rcv.badSig)
	}
	checkHookMetrics(t, p, model.WebhookName(srv.URL+"/hook"), want)
}

// checkHookMetrics wants /metrics to count the deliveries of the hook and
// an empty queue (acknowledgements follow the receiver's answer: wait).
func checkHookMetrics(t *testing.T, p *portusServer, hook string, delivered int) {
	t.Helper()
	wantLines := []string{
		fmt.Sprintf("portus_webhook_delivered_total{hook=%q} %d", hook, delivered),
		fmt.Sprintf("portus_webhook_queue_depth{hook=%q} 0", hook),
	}
	var text string
	waitFor(t, nil, func() bool {
		resp, err := http.Get(p.URL + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		text = string(b)
		for _, l := range wantLines {
			if !strings.Contains(text, l) {
				return false
			}
		}
		return true
	}, "webhook metrics")
}

// checkHookEvents wants each token's created (and, for the first five,
// revoked) event once, created first.
func checkHookEvents(t *testing.T, got []webhook.Payload, ids []string, want int) {
	t.Helper()
	seen := map[string]bool{}
	created := map[string]bool{}
	for _, e := range got {
		key := e.Type + " " + e.TokenID
		if seen[key] {
			t.Errorf("%s delivered twice", key)
		}
		seen[key] = true
		switch e.Type {
		case "token.created":
			created[e.TokenID] = true
		case "token.revoked":
			if !created[e.TokenID] {
				t.Errorf("token %s: revoked delivered before created", e.TokenID)
			}
		}
	}
	for i, id := range ids {
		if !seen["token.created "+id] || (i < 5 && !seen["token.revoked "+id]) {
			t.Errorf("token %d (%s): events lost across the SIGKILL", i, id)
		}
	}
	if len(got) != want {
		t.Errorf("%d deliveries, want %d", len(got), want)
	}
}
