package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

var activityTests = []subtest{
	{"AddActivityNewestFirst", testAddActivityNewestFirst},
	{"ActivitiesDefaultLimit", testActivitiesDefaultLimit},
	{"ActivitiesPaging", testActivitiesPaging},
	{"ActivitiesUserFilter", testActivitiesUserFilter},
	{"AddActivityKeep", testAddActivityKeep},
	{"AddActivityKeepShrinks", testAddActivityKeepShrinks},
	{"AddActivityKeepAll", testAddActivityKeepAll},
}

// addActivities appends n entries with the given keep and returns them as
// written (without IDs), oldest first.
func addActivities(t *testing.T, s model.Store, n, keep int, actor, subject string) []model.Activity {
	t.Helper()
	var added []model.Activity
	t0 := now()
	for i := range n {
		a := model.Activity{
			Time:      t0.Add(time.Duration(i) * time.Millisecond),
			Action:    fmt.Sprintf("action-%s-%d", actor, i),
			Actor:     actor,
			Subject:   subject,
			TokenName: "ci",
			ClientIP:  "192.0.2.7",
			Detail:    "storetest",
		}
		if err := s.AddActivity(a, keep); err != nil {
			t.Fatalf("AddActivity: %v", err)
		}
		added = append(added, a)
	}
	return added
}

func activities(t *testing.T, s model.Store, q model.ActivityQuery) []model.Activity {
	t.Helper()
	page, err := s.Activities(q)
	if err != nil {
		t.Fatalf("Activities(%+v): %v", q, err)
	}
	return page
}

// checkNewestFirst fails unless IDs strictly decrease.
func checkNewestFirst(t *testing.T, page []model.Activity) {
	t.Helper()
	for i := 1; i < len(page); i++ {
		if page[i].ID >= page[i-1].ID {
			t.Errorf("activities not newest first: IDs %v", activityIDs(page))
			return
		}
	}
}

// actions returns the actions of page.
func actions(page []model.Activity) []string {
	out := make([]string, len(page))
	for i, a := range page {
		out[i] = a.Action
	}
	return out
}

// reversedActions returns the actions of added, newest first.
func reversedActions(added []model.Activity) []string {
	out := make([]string, len(added))
	for i, a := range added {
		out[len(added)-1-i] = a.Action
	}
	return out
}

func testAddActivityNewestFirst(t *testing.T, s model.Store) {
	if page := activities(t, s, model.ActivityQuery{}); len(page) != 0 {
		t.Errorf("Activities on an empty store = %v", page)
	}
	added := addActivities(t, s, 5, 0, "alice", "bob")
	page := activities(t, s, model.ActivityQuery{})
	if len(page) != len(added) {
		t.Fatalf("Activities returned %d entries, want %d", len(page), len(added))
	}
	checkNewestFirst(t, page)
	for i, got := range page {
		want := added[len(added)-1-i]
		want.ID = got.ID
		if d := activityDiff(got, want); d != "" {
			t.Errorf("entry %d: %s", i, d)
		}
		if got.ID == 0 {
			t.Errorf("entry %d has no ID", i)
		}
	}
	// IDs keep increasing for later entries.
	addActivities(t, s, 1, 0, "carol", "")
	newest := activities(t, s, model.ActivityQuery{Limit: 1})
	if len(newest) != 1 || newest[0].Actor != "carol" || newest[0].ID <= page[0].ID {
		t.Errorf("newest entry = %+v, want carol's with an ID above %d", newest, page[0].ID)
	}
}

func testActivitiesDefaultLimit(t *testing.T, s model.Store) {
	added := addActivities(t, s, 60, 0, "alice", "")
	page := activities(t, s, model.ActivityQuery{})
	if len(page) != 50 {
		t.Fatalf("Activities with Limit 0 returned %d entries, want 50", len(page))
	}
	if got, want := actions(page), reversedActions(added)[:50]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Activities(Limit 0) = %v, want the newest 50 %v", got, want)
	}
	if page := activities(t, s, model.ActivityQuery{Limit: 7}); len(page) != 7 {
		t.Errorf("Activities(Limit 7) returned %d entries", len(page))
	}
	if page := activities(t, s, model.ActivityQuery{Limit: 1000}); len(page) != 60 {
		t.Errorf("Activities(Limit 1000) returned %d entries, want all 60", len(page))
	}
}

func testActivitiesPaging(t *testing.T, s model.Store) {
	const n, size = 23, 5
	added := addActivities(t, s, n, 0, "alice", "")
	all := activities(t, s, model.ActivityQuery{Limit: 1000})
	if len(all) != n {
		t.Fatalf("Activities returned %d entries, want %d", len(all), n)
	}
	var paged []model.Activity
	q := model.ActivityQuery{Limit: size}
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatalf("paging does not end: %v", activityIDs(paged))
		}
		page := activities(t, s, q)
		if len(page) > size {
			t.Fatalf("page of %d entries with Limit %d", len(page), size)
		}
		if len(page) == 0 {
			break
		}
		for _, a := range page {
			if q.Before != 0 && a.ID >= q.Before {
				t.Errorf("page Before %d holds ID %d", q.Before, a.ID)
			}
		}
		paged = append(paged, page...)
		q.Before = page[len(page)-1].ID
	}
	if fmt.Sprint(activityIDs(paged)) != fmt.Sprint(activityIDs(all)) {
		t.Errorf("pages of %d = IDs %v, want %v without overlap or gap", size, activityIDs(paged), activityIDs(all))
	}
	if fmt.Sprint(actions(paged)) != fmt.Sprint(reversedActions(added)) {
		t.Errorf("pages = %v, want %v", actions(paged), reversedActions(added))
	}
	// A Before above every ID is the first page.
	first := activities(t, s, model.ActivityQuery{Limit: size, Before: all[0].ID + 100})
	if fmt.Sprint(activityIDs(first)) != fmt.Sprint(activityIDs(all[:size])) {
		t.Errorf("Activities(Before above the newest) = %v, want %v", activityIDs(first), activityIDs(all[:size]))
	}
	// Before the oldest is empty.
	if page := activities(t, s, model.ActivityQuery{Before: all[n-1].ID}); len(page) != 0 {
		t.Errorf("Activities(Before the oldest) = %v, want none", activityIDs(page))
	}
}

func testActivitiesUserFilter(t *testing.T, s model.Store) {
	// Interleave: entries about bob as actor, as subject, and unrelated ones.
	type entry struct{ actor, subject string }
	entries := []entry{
		{"bob", ""}, {"alice", "carol"}, {"alice", "bob"}, {"carol", ""},
		{"bob", "alice"}, {"alice", ""}, {"admin", "bob"}, {"bobby", "bobby"},
		{"alice", "carol"}, {"bob", "bob"}, {"carol", "alice"}, {"alice", "bob"},
	}
	var wantBob []string
	for i, e := range entries {
		a := model.Activity{Time: now(), Action: fmt.Sprintf("a%02d", i), Actor: e.actor, Subject: e.subject}
		if err := s.AddActivity(a, 0); err != nil {
			t.Fatal(err)
		}
		if e.actor == "bob" || e.subject == "bob" {
			wantBob = append([]string{a.Action}, wantBob...)
		}
	}
	page := activities(t, s, model.ActivityQuery{User: "bob", Limit: 100})
	checkNewestFirst(t, page)
	if fmt.Sprint(actions(page)) != fmt.Sprint(wantBob) {
		t.Errorf("Activities(User bob) = %v, want %v", actions(page), wantBob)
	}
	// A limited page is filled with matching entries, and paging goes on
	// from there.
	var paged []string
	q := model.ActivityQuery{User: "bob", Limit: 2}
	for range len(entries) {
		page := activities(t, s, q)
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("page of %d entries with Limit 2", len(page))
		}
		paged = append(paged, actions(page)...)
		q.Before = page[len(page)-1].ID
	}
	if fmt.Sprint(paged) != fmt.Sprint(wantBob) {
		t.Errorf("pages of Activities(User bob, Limit 2) = %v, want %v", paged, wantBob)
	}
	if page := activities(t, s, model.ActivityQuery{User: "nobody"}); len(page) != 0 {
		t.Errorf("Activities(User nobody) = %v, want none", actions(page))
	}
}

func testAddActivityKeep(t *testing.T, s model.Store) {
	const keep = 3
	added := addActivities(t, s, 10, keep, "alice", "")
	page := activities(t, s, model.ActivityQuery{Limit: 1000})
	if got, want := actions(page), reversedActions(added)[:keep]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after 10 entries with keep %d: %v, want the newest %v", keep, got, want)
	}
}

// testAddActivityKeepShrinks writes with no limit, then with a small keep:
// one AddActivity must prune everything beyond it.
func testAddActivityKeepShrinks(t *testing.T, s model.Store) {
	const keep = 3
	added := addActivities(t, s, 10, 0, "alice", "")
	added = append(added, addActivities(t, s, 1, keep, "bob", "")...)
	page := activities(t, s, model.ActivityQuery{Limit: 1000})
	if got, want := actions(page), reversedActions(added)[:keep]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after 10 entries with keep 0 and one with keep %d: %v (IDs %v), want the newest %v",
			keep, got, activityIDs(page), want)
	}
}

func testAddActivityKeepAll(t *testing.T, s model.Store) {
	added := addActivities(t, s, 4, 0, "alice", "")
	added = append(added, addActivities(t, s, 4, -1, "bob", "")...)
	page := activities(t, s, model.ActivityQuery{Limit: 1000})
	if got, want := actions(page), reversedActions(added); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("with keep <= 0: %v, want all %v", got, want)
	}
}

var backupTests = []subtest{
	{"Backup", testBackup},
}

func testBackup(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	mustCreateToken(t, s, newToken("alice", "ci", now()))
	addActivities(t, s, 3, 0, "alice", "")
	var w bytes.Buffer
	n, err := s.Backup(&w)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if n <= 0 || w.Len() == 0 {
		t.Fatalf("Backup wrote %d bytes and reported %d", w.Len(), n)
	}
	if n != int64(w.Len()) {
		t.Errorf("Backup reported %d bytes but wrote %d", n, w.Len())
	}
	// The store is still usable.
	if _, err := s.User("alice"); err != nil {
		t.Errorf("User after Backup: %v", err)
	}
	// A failing writer fails the backup.
	if _, err := s.Backup(failingWriter{}); err == nil {
		t.Error("Backup to a failing writer succeeded")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("storetest: disk full") }

var _ io.Writer = failingWriter{}

var closeTests = []subtest{
	{"MethodsAfterClose", testMethodsAfterClose},
}

func testMethodsAfterClose(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	if err := s.AddActivity(model.Activity{Time: now(), Action: "x", Actor: "alice"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error { _, err := s.CreateUser(model.User{Name: "bob", CreatedAt: now()}, true); return err }},
		{"User", func() error { _, err := s.User("alice"); return err }},
		{"Users", func() error { _, err := s.Users(); return err }},
		{"UpdateUser", func() error {
			_, err := s.UpdateUser("alice", func(u *model.User) error { u.Admin = true; return nil })
			return err
		}},
		{"CreateToken", func() error {
			_, err := s.CreateToken(model.NewToken{Token: newToken("alice", "new", now()), Limit: 10})
			return err
		}},
		{"TokenByHash", func() error { _, _, err := s.TokenByHash(tok.Hash); return err }},
		{"Tokens", func() error { _, err := s.Tokens("alice"); return err }},
		{"TokenCount", func() error { _, err := s.TokenCount(); return err }},
		{"RevokeToken", func() error { _, err := s.RevokeToken("alice", tok.ID); return err }},
		{"RecordTokenUse", func() error { return s.RecordTokenUse(usesAt(map[string]time.Time{tok.ID: now()})) }},
		{"AddActivity", func() error { return s.AddActivity(model.Activity{Time: now(), Action: "y"}, 0) }},
		{"Activities", func() error { _, err := s.Activities(model.ActivityQuery{}); return err }},
		{"Backup", func() error { _, err := s.Backup(io.Discard); return err }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, model.ErrUnavailable) {
			t.Errorf("%s after Close = %v, want an error wrapping ErrUnavailable", c.name, err)
		}
	}
}
