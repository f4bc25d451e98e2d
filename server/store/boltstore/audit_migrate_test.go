package boltstore

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// writeOldAuditLayout writes entries the way the store did before the
// failure log and the index: all in activities, numbered by its sequence.
func writeOldAuditLayout(t *testing.T, path string, entries []model.Activity) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketActivities)
		if err != nil {
			return err
		}
		for _, a := range entries {
			if a.ID, err = b.NextSequence(); err != nil {
				return err
			}
			if err := putJSON(b, itob(a.ID), a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portus.db")
	var old []model.Activity
	for i := range 30 {
		a := model.Activity{Time: time.Now().UTC(), Action: fmt.Sprintf("token.create-%d", i), Actor: "alice", Subject: "bob"}
		if i%3 == 0 {
			a = model.Activity{Time: a.Time, Action: model.ActionAuthFailure, Actor: fmt.Sprintf("x%d", i%2)}
		}
		old = append(old, a)
	}
	writeOldAuditLayout(t, path, old)

	check := func(s *Store, wantFailures int) {
		t.Helper()
		all, err := s.Activities(model.ActivityQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var ids, fails []uint64
		for _, a := range all {
			ids = append(ids, a.ID)
			if a.Failure() {
				fails = append(fails, a.ID)
			}
		}
		if len(all) != 20+wantFailures || len(fails) != wantFailures {
			t.Errorf("after migration: %d entries, %d failures (IDs %v), want 20 history entries and %d failures", len(all), len(fails), ids, wantFailures)
		}
		bob, err := s.Activities(model.ActivityQuery{User: "bob", Limit: 1000})
		if err != nil || len(bob) != 20 {
			t.Errorf("bob's page after migration: %d entries (%v), want 20", len(bob), err)
		}
		x0, err := s.Activities(model.ActivityQuery{User: "x0", Limit: 1000})
		for _, a := range x0 {
			if a.Actor != "x0" || !slices.Contains(fails, a.ID) {
				t.Errorf("x0's page holds %+v", a)
			}
		}
		if err != nil || len(x0) == 0 || len(x0) > wantFailures {
			t.Errorf("x0's page after migration: %d entries (%v)", len(x0), err)
		}
	}
	s, err := Open(path, testLockTimeout)
	if err != nil {
		t.Fatal(err)
	}
	check(s, 10)
	// The failures are counted apart: their cap leaves the history alone.
	if err := s.AddActivity(model.Activity{Time: time.Now().UTC(), Action: model.ActionAuthFailure, Actor: "x0"}, 4); err != nil {
		t.Fatal(err)
	}
	check(s, 4)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Opening again migrates nothing twice.
	s = openAt(t, path)
	check(s, 4)
	if err := s.AddActivity(model.Activity{Time: time.Now().UTC(), Action: "token.revoke", Actor: "bob"}, 20); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.Activities(model.ActivityQuery{Limit: 1000}); len(all) != 24 || all[0].Action != "token.revoke" {
		t.Errorf("after one more history entry with keep 20: %d entries, newest %+v; want 20 + 4", len(all), all[0])
	}
}
