package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
)

func TestAdminSetsANewPasswordAndUnlocks(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	s.AddUser("bob", "bob-password", false)
	bob := newBrowser(t, s.URL)
	bob.signIn("bob", "bob-password")
	admin := newBrowser(t, s.URL)
	admin.signIn("root", "root-password")

	page := admin.get("/admin/users/bob")
	for _, want := range []string{`action="/admin/users/bob/password"`, `Unlock sign-in<span class="visually-hidden"> of bob</span>`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the user page lacks %s", want)
		}
	}
	p := admin.submit("/admin/users/bob", "/admin/users/bob/password", url.Values{"new_password": {"bob-new-password"}, "new_password_confirmation": {"bob-other-password"}})
	if p.Status != http.StatusSeeOther || !strings.Contains(admin.follow(p).text(), "The two new passwords differ") {
		t.Errorf("a mismatch = %s", p)
	}
	p = admin.submit("/admin/users/bob", "/admin/users/bob/password", url.Values{"new_password": {"short"}, "new_password_confirmation": {"short"}})
	if !strings.Contains(admin.follow(p).text(), "nothing was changed") {
		t.Error("a short password is not refused on the page")
	}
	p = admin.submit("/admin/users/bob", "/admin/users/bob/password", url.Values{"new_password": {"bob-new-password"}, "new_password_confirmation": {"bob-new-password"}})
	if p.Status != http.StatusSeeOther || p.Location() != "/admin/users/bob" || !strings.Contains(admin.follow(p).text(), "User 'bob' has a new password.") {
		t.Fatalf("setting the password = %s", p)
	}
	if got := bob.get("/profile"); got.Status != http.StatusSeeOther {
		t.Errorf("bob's session survived the reset: %s", got)
	}
	if registryStatus(t, s.URL, "bob", "bob-password") != http.StatusUnauthorized || registryStatus(t, s.URL, "bob", "bob-new-password") != http.StatusOK {
		t.Error("the old password works, or the new one does not")
	}
	p = admin.submit("/admin/users/bob", "/admin/users/bob/unlock", url.Values{"return": {"user"}})
	if p.Status != http.StatusSeeOther || !strings.Contains(admin.follow(p).text(), "User 'bob' can sign in again") {
		t.Errorf("unlock = %s", p)
	}
	if page := admin.get("/admin/users/root"); strings.Contains(page.Body, `action="/admin/users/root/password"`) {
		t.Error("an administrator gets the reset form for their own account (the profile's form asks for the current password)")
	}
}

func TestDisableAsksFirst(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	s.AddUser("bob", "bob-password", false)
	admin := newBrowser(t, s.URL)
	admin.signIn("root", "root-password")
	list := admin.get("/admin/users")
	for _, want := range []string{`aria-label="Disable bob"`, `Make <span class="visually-hidden">bob </span>admin`, `aria-label="Tokens of bob"`} {
		if !strings.Contains(list.Body, want) {
			t.Errorf("the users list lacks %s", want)
		}
	}
	if strings.Contains(list.Body, `action="/admin/users/bob/disable"`) {
		t.Error("the list disables without asking")
	}
	p := admin.get("/admin/users/bob/disable?return=user")
	if p.Status != http.StatusOK || !strings.Contains(p.text(), "Disable bob?") || !strings.Contains(p.Body, `name="return" value="user"`) || !strings.Contains(p.Body, `href="/admin/users/bob">Cancel`) {
		t.Fatalf("the confirmation:\n%s", p)
	}
	if registryStatus(t, s.URL, "bob", "bob-password") != http.StatusOK {
		t.Fatal("asking disabled bob")
	}
	done := admin.do(http.MethodPost, "/admin/users/bob/disable", url.Values{"csrf_token": {p.csrf(t)}, "return": {"user"}})
	if done.Status != http.StatusSeeOther || done.Location() != "/admin/users/bob" || registryStatus(t, s.URL, "bob", "bob-password") != http.StatusUnauthorized {
		t.Errorf("confirming = %s (Location %q)", done, done.Location())
	}
}
