package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
)

func TestChangePasswordPage(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	other := newBrowser(t, s.URL)
	other.signIn("alice", "alice-password")
	_, token := b.createToken("laptop", "push")

	p := b.submit("/profile", "/profile/password", url.Values{"current_password": {"nope-nope"}, "new_password": {"new-password"}, "new_password_confirmation": {"new-password"}})
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.text(), "Your current password is not correct") {
		t.Errorf("wrong current password = %s", p)
	}
	s.CoolDown()
	p = b.submit("/profile", "/profile/password", url.Values{"current_password": {"alice-password"}, "new_password": {"new-password"}, "new_password_confirmation": {"new-passwort"}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.text(), "The two new passwords differ") {
		t.Errorf("differing new passwords = %s", p)
	}
	p = b.submit("/profile", "/profile/password", url.Values{"current_password": {"alice-password"}, "new_password": {"new-password"}, "new_password_confirmation": {"new-password"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("change password = %s", p)
	}
	if profile := b.follow(p); profile.Status != http.StatusOK || !strings.Contains(profile.text(), "Your password was changed.") {
		t.Errorf("after changing the password this browser is not signed in with a flash:\n%s", profile)
	}
	if p := other.get("/profile"); p.Status != http.StatusSeeOther {
		t.Errorf("another browser stayed signed in after the password change: %s", p)
	}
	if registryStatus(t, s.URL, "alice", token) != http.StatusOK {
		t.Error("changing the password without ticking the box revoked a token")
	}
	p = b.submit("/profile", "/profile/password", url.Values{"current_password": {"new-password"}, "new_password": {"newer-password"}, "new_password_confirmation": {"newer-password"}, "revoke_tokens": {"1"}})
	if !strings.Contains(b.follow(p).text(), "All your application tokens were revoked (1).") {
		t.Error("no flash about revoked tokens")
	}
	if registryStatus(t, s.URL, "alice", token) != http.StatusUnauthorized {
		t.Error("the box was ticked but the token still works")
	}
}
