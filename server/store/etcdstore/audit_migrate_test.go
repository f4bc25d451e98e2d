package etcdstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/model"
)

// testAuditMigration writes the old audit layout (one log, a counter of
// {"last","oldest"}, no index) and opens a store on it, twice.
func testAuditMigration(t *testing.T, c *testetcd.Cluster) {
	prefix := freshPrefix()
	raw := open(t, c, Options{Prefix: prefix})
	ctx := context.Background()
	if _, err := raw.cli.Put(ctx, raw.k.auditSeq(), `{"last":30,"oldest":1}`); err != nil {
		t.Fatal(err)
	}
	for id := uint64(1); id <= 30; id++ {
		a := model.Activity{ID: id, Time: time.Now().UTC(), Action: fmt.Sprintf("token.create-%d", id), Actor: "alice", Subject: "bob"}
		if id%3 == 0 {
			a = model.Activity{ID: id, Time: a.Time, Action: model.ActionAuthFailure, Actor: "x0"}
		}
		if _, err := raw.cli.Put(ctx, raw.k.audit(id), mustJSON(a)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store, wantFailures int) {
		t.Helper()
		all, err := s.Activities(model.ActivityQuery{Limit: 1000})
		fails := 0
		for _, a := range all {
			if a.Failure() {
				fails++
			}
		}
		if err != nil || len(all) != 20+wantFailures || fails != wantFailures {
			t.Errorf("after migration: %d entries, %d failures (%v); want 20 history entries and %d failures", len(all), fails, err, wantFailures)
		}
		bob, err := s.Activities(model.ActivityQuery{User: "bob", Limit: 1000})
		if err != nil || len(bob) != 20 {
			t.Errorf("bob's page: %d entries (%v), want 20", len(bob), err)
		}
		x0, err := s.Activities(model.ActivityQuery{User: "x0", Limit: 3})
		if err != nil || len(x0) != 3 || !x0[0].Failure() {
			t.Errorf("x0's page: %+v (%v), want 3 failures", x0, err)
		}
	}
	s := open(t, c, Options{Prefix: prefix})
	check(s, 10)
	if err := s.AddActivity(model.Activity{Time: time.Now().UTC(), Action: model.ActionAuthFailure, Actor: "x0"}, 4); err != nil {
		t.Fatal(err)
	}
	check(s, 4)
	check(open(t, c, Options{Prefix: prefix}), 4)
}
