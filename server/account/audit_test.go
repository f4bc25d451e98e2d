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
