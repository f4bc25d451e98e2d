package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

func TestAdminPages(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	s.AddUser("bob", "bob-password", false)
	bobToken := s.CreateToken("bob", "bob-password", apitypes.CreateTokenRequest{Name: "ci"})
	s.CreateToken("bob", "bob-password", apitypes.CreateTokenRequest{Name: "laptop"})

	bob := newBrowser(t, s.URL)
	bob.signIn("bob", "bob-password")
	for _, path := range []string{"/admin/users", "/admin/users/bob"} {
		if p := bob.get(path); p.Status != http.StatusForbidden || !strings.Contains(p.text(), "Only administrators") {
			t.Errorf("a user on %s = %s", path, p)
		}
	}
	if p := bob.submit("/profile", "/admin/users/bob/grant-admin", nil); p.Status != http.StatusForbidden {
		t.Errorf("a user making himself admin = %s", p)
	}

	root := newBrowser(t, s.URL)
	root.signIn("root", "root-password")
	p := root.submit("/admin/users", "/admin/users", url.Values{"username": {"carol"}, "password": {"carol-password"}})
	if users := root.follow(p); !strings.Contains(users.text(), "User 'carol' was created.") || !strings.Contains(users.Body, `data-user="carol"`) {
		t.Errorf("after creating carol:\n%s", users)
	}
	p = root.submit("/admin/users", "/admin/users", url.Values{"username": {"Bad Name"}, "password": {"carol-password"}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.text(), "Name must be 2 to 64 lowercase letters") {
		t.Errorf("creating a user with a bad name = %s", p)
	}
	p = root.submit("/admin/users", "/admin/users/carol/grant-admin", nil)
	if !strings.Contains(root.follow(p).text(), "User 'carol' is now an administrator.") {
		t.Error("no flash after making carol admin")
	}
	if u, _ := s.Core.Accounts.UserLookup("carol"); !u.Admin {
		t.Error("carol is not an administrator")
	}
	for _, action := range []string{"disable", "revoke-admin"} {
		p = root.submit("/admin/users", "/admin/users/root/"+action, nil)
		if !strings.Contains(root.follow(p).text(), "You cannot") {
			t.Errorf("%s on oneself was not refused", action)
		}
	}
	if u, _ := s.Core.Accounts.UserLookup("root"); !u.Admin || u.Disabled {
		t.Error("root locked themselves out")
	}
	if p := root.get("/admin/users/nobody"); p.Status != http.StatusNotFound {
		t.Errorf("unknown user page = %s", p)
	}

	// A user's tokens: revoke one, then all.
	page := root.get("/admin/users/bob")
	if !strings.Contains(page.Body, `data-token="ci"`) || !strings.Contains(page.Body, `data-token="laptop"`) {
		t.Fatalf("bob's page does not list his tokens:\n%s", page)
	}
	if !strings.Contains(page.Body, `href="/admin/users/bob/tokens/`+bobToken.ID+`/revoke" aria-label="Revoke token ci">Revoke</a>`) {
		t.Errorf("bob's page has no link to revoke his token ci:\n%s", page)
	}
	p = root.submit("/admin/users/bob/tokens/"+bobToken.ID+"/revoke", "/admin/users/bob/tokens/"+bobToken.ID+"/revoke", nil)
	if !strings.Contains(root.follow(p).text(), "Token 'ci' of bob was revoked.") {
		t.Error("no flash after revoking bob's token")
	}
	if registryStatus(t, s.URL, "bob", bobToken.Token) != http.StatusUnauthorized {
		t.Error("bob's revoked token still works")
	}
	p = root.submit("/admin/users/bob/revoke-all", "/admin/users/bob/revoke-all", nil)
	if !strings.Contains(root.follow(p).text(), "All tokens of bob were revoked (1).") {
		t.Error("no flash after revoking all of bob's tokens")
	}
	if list, _ := s.Core.Accounts.Tokens("bob"); len(list) != 0 {
		t.Errorf("bob still has %d tokens", len(list))
	}
}
