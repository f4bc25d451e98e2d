package account

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
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

// TestHistoryBudget: one actor writes at most historyPerHour history
// entries an hour; the next hour's first entry says how many were not
// written; other actors and the admin CLI are not affected, so one account
// cannot prune everyone's history out of the shared cap.
func TestHistoryBudget(t *testing.T) {
	f := newFixture(t, Options{AuditKeep: 2 * historyPerHour})
	f.user(t, "alice", "alice-password", false)
	f.user(t, "bob", "bob-password", false)
	for i := range historyPerHour + 50 {
		f.svc.audit(model.Activity{Action: "token.create", Actor: "mallory", Subject: "mallory", TokenName: fmt.Sprint(i)})
	}
	// Over the budget, account changes and actions on others still count.
	f.svc.audit(model.Activity{Action: "user.admin.grant", Actor: "mallory", Subject: "bob"})
	f.svc.audit(model.Activity{Action: "user.password.change", Actor: "mallory", Subject: "mallory"})
	f.svc.audit(model.Activity{Action: "user.disable", Actor: LocalAdminName, Subject: "mallory"})
	f.svc.audit(model.Activity{Action: "token.create", Actor: "bob", Subject: "bob"})
	count := func(actor string) int {
		acts, err := f.svc.store.Activities(model.ActivityQuery{User: actor, Limit: 5 * historyPerHour})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range acts {
			if a.Actor == actor {
				n++
			}
		}
		return n
	}
	if n := count("mallory"); n != historyPerHour+2 {
		t.Errorf("mallory has %d entries, want the budget %d and her two account changes", n, historyPerHour)
	}
	if acts, _ := f.svc.store.Activities(model.ActivityQuery{User: "bob", Limit: 10}); len(acts) < 2 || acts[1].Action != "user.admin.grant" {
		t.Errorf("mallory's grant to bob was not written: %+v", acts)
	}
	if count("bob") != 1 || count("test") != 2 {
		t.Errorf("others' entries: bob %d, user creations %d", count("bob"), count("test"))
	}
	acts, _ := f.svc.store.Activities(model.ActivityQuery{User: "mallory", Limit: 1})
	if len(acts) != 1 || acts[0].Actor != LocalAdminName {
		t.Errorf("the admin CLI's entry is missing: %+v", acts)
	}

	f.clock.Advance(time.Hour)
	f.svc.audit(model.Activity{Action: "token.create", Actor: "mallory", Subject: "mallory"})
	acts, _ = f.svc.store.Activities(model.ActivityQuery{User: "mallory", Limit: 1})
	if len(acts) != 1 || !strings.Contains(acts[0].Detail, "50 earlier entries by mallory not recorded") {
		t.Errorf("the next hour's first entry: %+v", acts)
	}
}

// TestAdminTakesOverDockerLogin: an administrator who sets the docker_login
// value a user chose themselves takes the setting over, so the user can no
// longer switch it off.
func TestAdminTakesOverDockerLogin(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	only := DockerLoginTokensOnly
	if _, err := f.svc.UpdateUser(Actor{Name: "alice"}, "alice", UserChange{DockerLogin: &only}); err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.UpdateUser(Actor{Name: "root"}, "alice", UserChange{DockerLogin: &only})
	if err != nil || u.DockerLoginBy != "root" {
		t.Errorf("after the administrator set the same value: by %q, %v; want root", u.DockerLoginBy, err)
	}
}
