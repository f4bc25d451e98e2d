package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

func activities(t *testing.T, s *testserver.Server, query string, auth testserver.Opt) (apitypes.ActivityPage, string) {
	t.Helper()
	r := s.Expect(200, "GET", "/api/v1/activities"+query, nil, auth)
	var page apitypes.ActivityPage
	testserver.Decode(t, r, &page)
	return page, string(r.Body)
}

func TestActivities(t *testing.T) {
	s := start(t, testserver.Options{})
	root, alice := basic("root", rootPW), basic("alice", alicePW)
	const carolPW, wrongPW = "carol-password-4444", "Wrong-Horse-Battery-77"

	var secrets []string
	s.Expect(201, "POST", "/api/v1/users", apitypes.CreateUserRequest{Name: "carol", Password: carolPW}, root)
	a := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	b := s.CreateToken("alice", alicePW, tokenReq("ci"))
	c := s.CreateToken("bob", bobPW, tokenReq("bob-laptop"))
	secrets = append(secrets, a.Token, b.Token, c.Token, rootPW, alicePW, bobPW, carolPW, wrongPW)
	s.Expect(204, "DELETE", "/api/v1/tokens/current", nil, basic("alice", a.Token))
	s.Expect(204, "DELETE", "/api/v1/users/bob/tokens/"+c.ID, nil, root)
	s.Expect(200, "PATCH", "/api/v1/users/bob", `{"disabled":true}`, root)
	s.Do("GET", "/api/v1/tokens", nil, basic("alice", wrongPW))
	s.CoolDown()
	s.Do("GET", "/api/v1/tokens", nil, basic("alice", c.Token))
	s.CoolDown()
	for i := 0; i < 5; i++ { // more entries, for paging
		s.CreateToken("carol", carolPW, tokenReq(fmt.Sprintf("carol-%d", i)))
	}

	all, raw := activities(t, s, "?limit=500", root)
	for _, secret := range secrets {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit log contains a secret (%.8s…)", secret)
		}
	}
	type key struct{ action, actor, subject, token string }
	seen := map[key]bool{}
	for i, e := range all.Activities {
		seen[key{e.Action, e.Actor, e.Subject, e.TokenName}] = true
		if e.ClientIP != "127.0.0.1" && e.Actor != "test-setup" {
			t.Errorf("activity %+v has client IP %q", e, e.ClientIP)
		}
		if e.Time.IsZero() || e.ID == 0 {
			t.Errorf("activity %+v lacks a time or an id", e)
		}
		if i > 0 && e.ID >= all.Activities[i-1].ID {
			t.Errorf("not newest first at %d", i)
		}
	}
	for _, k := range []key{
		{"user.create", "root", "carol", ""},
		{"token.create", "alice", "alice", "laptop"},
		{"token.revoke", "alice", "alice", "laptop"},
		{"token.revoke", "root", "bob", "bob-laptop"},
		{"user.disable", "root", "bob", ""},
		{"auth.failure", "alice", "", ""},
	} {
		if !seen[k] {
			t.Errorf("no activity %+v", k)
		}
	}
	if all.Next != 0 {
		t.Errorf("a complete list has next %d", all.Next)
	}

	// A user sees only entries about themselves, whatever they ask for.
	for _, q := range []string{"", "?user=bob", "?user="} {
		mine, raw := activities(t, s, q, alice)
		if len(mine.Activities) == 0 {
			t.Errorf("alice sees no activity with %q", q)
		}
		for _, e := range mine.Activities {
			if e.Actor != "alice" && e.Subject != "alice" {
				t.Errorf("alice (%q) sees %+v", q, e)
			}
		}
		if strings.Contains(raw, "carol") || strings.Contains(raw, "bob-laptop") {
			t.Errorf("alice's activities mention others: %s", raw)
		}
	}
	// A token may read its owner's activity too.
	activities(t, s, "", basic("alice", b.Token))

	// An administrator can filter by user.
	bobs, _ := activities(t, s, "?user=bob", root)
	if len(bobs.Activities) == 0 {
		t.Error("no activity about bob")
	}
	for _, e := range bobs.Activities {
		if e.Actor != "bob" && e.Subject != "bob" {
			t.Errorf("?user=bob returned %+v", e)
		}
	}

	// Paging with before=next visits every entry once, in order.
	var ids []uint64
	next := uint64(0)
	for pages := 0; ; pages++ {
		if pages > len(all.Activities) {
			t.Fatal("paging does not end")
		}
		q := "?limit=3"
		if next != 0 {
			q += fmt.Sprintf("&before=%d", next)
		}
		page, _ := activities(t, s, q, root)
		if len(page.Activities) > 3 {
			t.Fatalf("page of %d entries with limit 3", len(page.Activities))
		}
		for _, e := range page.Activities {
			ids = append(ids, e.ID)
		}
		if page.Next == 0 {
			break
		}
		next = page.Next
	}
	if len(ids) != len(all.Activities) {
		t.Fatalf("paging returned %d entries, the full list has %d", len(ids), len(all.Activities))
	}
	for i, id := range ids {
		if id != all.Activities[i].ID {
			t.Fatalf("paging entry %d is %d, want %d (duplicate or gap)", i, id, all.Activities[i].ID)
		}
	}
}

// TestCLIActorNameIsNotAUser: the admin CLI acts as "portus-cli" in the
// audit log. Someone who signs up with that name must not see what the
// administrators did to other users.
func TestCLIActorNameIsNotAUser(t *testing.T) {
	s := start(t, testserver.Options{})
	cli := account.Principal{Local: true}.Actor("")
	if _, err := s.Core.Accounts.CreateToken(cli, "bob", account.NewToken{Name: "bob-ci", Via: apitypes.ViaCLI}); err != nil {
		t.Fatal(err)
	}
	r := s.Do("POST", "/api/v1/users", apitypes.CreateUserRequest{Name: account.LocalAdminName, Password: "impostor-password"}, basic("root", rootPW))
	if r.Status == 400 {
		return // the name is reserved: fine
	}
	if r.Status != 201 {
		t.Fatalf("creating %s: %s", account.LocalAdminName, r)
	}
	page, raw := activities(t, s, "", basic(account.LocalAdminName, "impostor-password"))
	for _, e := range page.Activities {
		if e.Subject != account.LocalAdminName {
			t.Errorf("user %s sees %+v", account.LocalAdminName, e)
		}
	}
	if strings.Contains(raw, "bob-ci") {
		t.Error("the impostor sees bob's token created by the admin CLI")
	}
}

// An admin's application token is not an admin session: it reads only its
// owner's activity.
func TestAdminTokenSeesOnlyOwnActivity(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	s.AddUser("alice", "alice-password", false)
	s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "alices"})
	tok := s.CreateToken("root", "root-password", apitypes.CreateTokenRequest{Name: "ci", Scope: "pull"}).Token
	for _, path := range []string{"/api/v1/activities", "/api/v1/activities?user=alice"} {
		var page apitypes.ActivityPage
		testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, path, nil, testserver.Basic("root", tok)), &page)
		for _, a := range page.Activities {
			if a.Actor != "root" && a.Subject != "root" {
				t.Fatalf("%s with an admin's token shows %+v", path, a)
			}
		}
	}
}
