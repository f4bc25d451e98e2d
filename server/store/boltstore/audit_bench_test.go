package boltstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// BenchmarkActivitiesSmallUser reads the page of a user with 20 entries in
// a log of 100 000 entries from others: the cost of GET
// /api/v1/activities?user=… that any token holder can ask for.
func BenchmarkActivitiesSmallUser(b *testing.B) {
	s, err := Open(b.TempDir()+"/portus.db", time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// Filling without an fsync per entry; the reads are what is measured.
	s.db.NoSync = true
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100_020 {
		a := model.Activity{Time: t0.Add(time.Duration(i) * time.Millisecond), Action: "token.create",
			Actor: fmt.Sprintf("user%d", i%500), Subject: fmt.Sprintf("user%d", i%500), TokenName: "ci", ClientIP: "192.0.2.7"}
		if i%5001 == 0 {
			a.Actor, a.Subject = "small", "small"
		}
		if err := s.AddActivity(a, 0); err != nil {
			b.Fatal(err)
		}
	}
	s.db.NoSync = false
	b.ResetTimer()
	for range b.N {
		page, err := s.Activities(model.ActivityQuery{User: "small", Limit: 50})
		if err != nil {
			b.Fatal(err)
		}
		if len(page) != 20 {
			b.Fatalf("page of %d entries, want 20", len(page))
		}
	}
}
