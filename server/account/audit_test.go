package account

import (
	"fmt"
	"testing"
	"time"
)

func TestFailureAuditBounded(t *testing.T) {
	var f failureAudit
	t0 := time.Now()
	written := 0
	for i := 0; i < 100; i++ {
		if ok, _ := f.admit("alice", "192.0.2.1", t0); ok {
			written++
		}
	}
	if written != 1 {
		t.Fatalf("100 identical failures wrote %d entries, want 1", written)
	}
	ok, left := f.admit("alice", "192.0.2.1", t0.Add(failureAuditEvery))
	if !ok || left != 99 {
		t.Fatalf("after the interval: written %v, %d counted as left out; want true, 99", ok, left)
	}
	// Many addresses at once: at most the burst per second.
	written = 0
	t1 := t0.Add(time.Minute)
	for i := 0; i < 1000; i++ {
		if ok, _ := f.admit("alice", fmt.Sprintf("198.51.100.%d", i%250), t1); ok {
			written++
		}
	}
	if written != failureAuditBurst {
		t.Fatalf("a flood from many addresses wrote %d entries in one second, want %d", written, failureAuditBurst)
	}
}

// TestFailuresKeepHistory: failures, however many, are capped apart and
// leave the history of actions in place.
func TestFailuresKeepHistory(t *testing.T) {
	f := newFixture(t, Options{AuditKeep: 5, FailureAuditKeep: 3})
	for _, name := range []string{"alice", "bob"} {
		f.user(t, name, name+"-password", false)
	}
	for i := 0; i < 50; i++ {
		f.svc.Authenticate(fmt.Sprintf("nobody%d", i), "wrong-password", "")
		f.clock.Advance(11 * time.Second)
	}
	all, err := f.svc.Activities(Principal{Local: true}, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var history, failures int
	for _, a := range all {
		if a.Failure() {
			failures++
		} else {
			history++
		}
	}
	if history != 2 || failures != 3 {
		t.Errorf("after 50 failures: %d history entries and %d failures, want both user.create and 3", history, failures)
	}
}

// TestActivityReadsPerCaller: a caller may run two audit-log reads at
// once; a third is refused at once, others are not affected, and a slot
// comes back when a read ends.
func TestActivityReadsPerCaller(t *testing.T) {
	var r readLimit
	if !r.begin("alice") || !r.begin("alice") {
		t.Fatal("two reads refused")
	}
	if r.begin("alice") {
		t.Error("a third concurrent read of alice was let through")
	}
	if !r.begin("bob") {
		t.Error("bob refused because of alice's reads")
	}
	r.end("alice")
	if !r.begin("alice") {
		t.Error("no slot after a read ended")
	}
	r.end("alice")
	r.end("alice")
	r.end("bob")
	if len(r.running) != 0 {
		t.Errorf("counts left behind: %v", r.running)
	}
}
