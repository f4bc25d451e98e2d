package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/etcdstore"
	"github.com/portusproject/portus/server/webhook"
)

// Two replicas on one etcd cluster, both delivering from the shared
// queue: every event reaches the receiver once, each token's in order.
func TestReplicasOnEtcdDeliverOnce(t *testing.T) {
	cluster := testetcd.Start(t, 1)
	r := newReceiver(t)
	hook := webhook.Hook{URL: r.srv.URL, Secret: secret, Events: model.EventTypes}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	prefix := fmt.Sprintf("/webhooks-test-%d/", time.Now().UnixNano())
	var services []*account.Service
	for i := range 2 {
		st, err := etcdstore.Open(etcdstore.Options{Endpoints: cluster.Endpoints(), Prefix: prefix, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		d := webhook.New(webhook.Options{Hooks: []webhook.Hook{hook}, Queue: st, Owner: fmt.Sprintf("replica-%d", i), Log: log,
			Poll: 10 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		svc, err := account.New(st, account.Options{Pepper: make([]byte, 32), Events: d.Publish, MaxTokens: 100,
			PasswordParams: account.PasswordParams{Memory: 64, Time: 1, Threads: 1}, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); d.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done; st.Close() })
		services = append(services, svc)
	}
	if _, err := services[0].CreateUser(account.Actor{Name: "portus-cli"}, "alice", "correct horse", false, false); err != nil {
		t.Fatal(err)
	}
	const tokens = 15
	for i := range tokens {
		svc := services[i%2]
		tok, err := svc.CreateToken(account.Actor{Name: "alice"}, "alice", account.NewToken{Name: fmt.Sprintf("t%d", i), Scope: "pull"})
		if err != nil {
			t.Fatal(err)
		}
		if err := services[(i+1)%2].RevokeToken(account.Actor{Name: "alice"}, "alice", tok.ID); err != nil {
			t.Fatal(err)
		}
	}
	r.waitEvents(t, 2*tokens)
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show
	got := r.events()
	ids := map[string]int{}
	created := map[string]bool{}
	for _, e := range got {
		ids[e.ID]++
		if e.Type == model.EventTokenCreated {
			created[e.TokenID] = true
		} else if !created[e.TokenID] {
			t.Errorf("token %s: revoked delivered before created", e.TokenID)
		}
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	if len(got) != 2*tokens {
		t.Fatalf("%d deliveries, want %d", len(got), 2*tokens)
	}
}
