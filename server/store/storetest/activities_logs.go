package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/portusproject/portus/server/model"
)

// Tests of the two logs (history and failures, capped apart) and of the
// per-user pages.
var activityLogTests = []subtest{
	{"FailuresDoNotFlushHistory", testFailuresDoNotFlushHistory},
	{"LogsPrunedByOwnCap", testLogsPrunedByOwnCap},
	{"LogsMergedPaging", testLogsMergedPaging},
	{"UserPageExact", testUserPageExact},
	{"UserIndexAfterPruning", testUserIndexAfterPruning},
}

func failure(name string, i int) model.Activity {
	return model.Activity{Time: now(), Action: model.ActionAuthFailure, Actor: name, ClientIP: "198.51.100.9",
		Detail: fmt.Sprintf("failure %d", i)}
}

func history(actor, subject string, i int) model.Activity {
	return model.Activity{Time: now(), Action: fmt.Sprintf("token.create-%d", i), Actor: actor, Subject: subject}
}

func add(t *testing.T, s model.Store, a model.Activity, keep int) {
	t.Helper()
	if err := s.AddActivity(a, keep); err != nil {
		t.Fatalf("AddActivity(%s): %v", a.Action, err)
	}
}

// details returns the Detail, or else the Action, of each entry of page.
func details(page []model.Activity) []string {
	out := make([]string, len(page))
	for i, a := range page {
		out[i] = a.Action
		if a.Failure() {
			out[i] = a.Detail
		}
	}
	return out
}

// allPages reads every page of q, size entries at a time.
func allPages(t *testing.T, s model.Store, q model.ActivityQuery, size int) []model.Activity {
	t.Helper()
	var all []model.Activity
	q.Limit = size
	for range 10_000 {
		page := activities(t, s, q)
		if len(page) > size {
			t.Fatalf("page of %d entries with Limit %d", len(page), size)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		q.Before = page[len(page)-1].ID
	}
	t.Fatal("paging does not end")
	return nil
}

func testFailuresDoNotFlushHistory(t *testing.T, s model.Store) {
	const historyKeep, failureKeep = 10, 7
	var want []string
	for i := range historyKeep {
		a := history("alice", "alice", i)
		add(t, s, a, historyKeep)
		want = append([]string{a.Action}, want...)
	}
	// Ten times the history's cap of failures, from anybody.
	var fails []string
	for i := range 10 * historyKeep {
		add(t, s, failure(fmt.Sprintf("x%d", i), i), failureKeep)
		fails = append([]string{fmt.Sprintf("failure %d", i)}, fails...)
	}
	page := activities(t, s, model.ActivityQuery{Limit: 1000})
	checkNewestFirst(t, page)
	want = append(fails[:failureKeep], want...)
	if got := details(page); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after %d failures: %v, want the newest %d failures and all the history %v",
			10*historyKeep, got, failureKeep, want)
	}
	if page := activities(t, s, model.ActivityQuery{User: "alice", Limit: 1000}); len(page) != historyKeep {
		t.Errorf("alice's page holds %d entries, want all %d", len(page), historyKeep)
	}
}

func testLogsPrunedByOwnCap(t *testing.T, s model.Store) {
	const historyKeep, failureKeep = 4, 3
	var hist, fails []string
	for i := range 12 {
		h := history("alice", "bob", i)
		add(t, s, h, historyKeep)
		hist = append(hist, h.Action)
		f := failure("bob", i)
		add(t, s, f, failureKeep)
		fails = append(fails, f.Detail)
	}
	page := activities(t, s, model.ActivityQuery{Limit: 1000})
	checkNewestFirst(t, page)
	var gotHist, gotFails []string
	for _, a := range page {
		if a.Failure() {
			gotFails = append([]string{a.Detail}, gotFails...)
		} else {
			gotHist = append([]string{a.Action}, gotHist...)
		}
	}
	if fmt.Sprint(gotHist) != fmt.Sprint(hist[len(hist)-historyKeep:]) {
		t.Errorf("history = %v, want its newest %d %v", gotHist, historyKeep, hist[len(hist)-historyKeep:])
	}
	if fmt.Sprint(gotFails) != fmt.Sprint(fails[len(fails)-failureKeep:]) {
		t.Errorf("failures = %v, want their newest %d %v", gotFails, failureKeep, fails[len(fails)-failureKeep:])
	}
}

func testLogsMergedPaging(t *testing.T, s model.Store) {
	var want []string
	for i := range 17 {
		a := history("alice", "", i)
		if i%3 != 0 {
			a = failure("mallory", i)
		}
		add(t, s, a, 0)
		want = append(details([]model.Activity{a}), want...)
	}
	for _, size := range []int{1, 2, 5, 100} {
		paged := allPages(t, s, model.ActivityQuery{}, size)
		checkNewestFirst(t, paged)
		if got := details(paged); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pages of %d = %v, want %v", size, got, want)
		}
	}
}

// checkUserPages fails unless every user's pages are exactly the entries
// of the whole log with that user as actor or subject, newest first.
func checkUserPages(t *testing.T, s model.Store, users []string) {
	t.Helper()
	all := allPages(t, s, model.ActivityQuery{}, 500)
	for _, u := range users {
		var want []uint64
		for _, a := range all {
			if a.Actor == u || a.Subject == u {
				want = append(want, a.ID)
			}
		}
		for _, size := range []int{3, 50} {
			got := allPages(t, s, model.ActivityQuery{User: u}, size)
			checkNewestFirst(t, got)
			if !slices.Equal(activityIDs(got), want) {
				t.Errorf("pages of %d of %s = %v, want %v", size, u, activityIDs(got), want)
			}
		}
	}
}

func testUserPageExact(t *testing.T, s model.Store) {
	users := []string{"bob", "bobby", "b", "alice", "a/b", "ümlaut"}
	for i := range 90 {
		actor, subject := users[i%len(users)], users[(i/len(users))%len(users)]
		if i%4 == 0 {
			add(t, s, failure(actor, i), 0)
			continue
		}
		add(t, s, history(actor, subject, i), 0)
	}
	// A page in the middle: Before one of bob's entries.
	bob := activities(t, s, model.ActivityQuery{User: "bob", Limit: 1000})
	if len(bob) < 10 {
		t.Fatalf("bob has %d entries", len(bob))
	}
	mid := activities(t, s, model.ActivityQuery{User: "bob", Before: bob[4].ID, Limit: 3})
	if !slices.Equal(activityIDs(mid), activityIDs(bob[5:8])) {
		t.Errorf("bob's page Before %d = %v, want %v", bob[4].ID, activityIDs(mid), activityIDs(bob[5:8]))
	}
	checkUserPages(t, s, append(users, "nobody", "bo"))
}

func testUserIndexAfterPruning(t *testing.T, s model.Store) {
	users := []string{"alice", "bob", "carol"}
	for i := range 60 {
		u := users[i%len(users)]
		add(t, s, history(u, users[(i+1)%len(users)], i), 10)
		add(t, s, failure(u, i), 5)
	}
	if n := len(activities(t, s, model.ActivityQuery{Limit: 1000})); n != 15 {
		t.Errorf("after pruning the log holds %d entries, want 10 + 5", n)
	}
	checkUserPages(t, s, users)
	// Lowering a cap prunes the index as well.
	add(t, s, history("alice", "", 99), 2)
	add(t, s, failure("bob", 99), 1)
	checkUserPages(t, s, users)
}
