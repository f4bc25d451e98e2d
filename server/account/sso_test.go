package account

import (
	"errors"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/model"
)

func TestSSOFirstSignInCreatesAndRefreshes(t *testing.T) {
	f := newFixture(t, Options{})
	id := SSOIdentity{Subject: "sub-1", Username: "carol", Email: "carol@example.org", DisplayName: "Carol", AdminChecked: true, Admin: true}
	p, err := f.svc.SignInSSO(id, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := f.svc.UserLookup("carol")
	if u.Source != model.SourceOIDC || u.PasswordHash != "" || u.OIDCSubject != "sub-1" || u.Email != "carol@example.org" || !u.Admin || !p.User.Admin {
		t.Errorf("created %+v", u)
	}
	// No password: the sign-in form and docker login refuse whatever is typed.
	if _, err := f.svc.AuthenticatePassword("carol", "", "10.0.0.1"); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("empty password: %v", err)
	}
	if _, err := f.svc.Authenticate("carol", "anything-at-all", "10.0.0.1"); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("a password for an SSO user: %v", err)
	}
	if _, err := f.svc.UpdateUser(Actor{Name: "root"}, "carol", UserChange{Password: new("new-password-123")}); err == nil || !strings.Contains(err.Error(), "single sign-on") {
		t.Errorf("setting a password on an SSO user: %v", err)
	}
	// Leaving the admin group takes the flag away at the next sign-in.
	id.Admin, id.Email = false, "carol@new.example.org"
	if p, err = f.svc.SignInSSO(id, "10.0.0.1"); err != nil || p.User.Admin || p.User.Email != "carol@new.example.org" {
		t.Errorf("second sign-in: %+v %v", p.User, err)
	}
	acts, _ := f.svc.store.Activities(model.ActivityQuery{User: "carol"})
	if len(acts) < 2 || acts[0].Action != "user.admin.revoke" {
		t.Errorf("audit %+v", acts)
	}
	// Another person with the same username is refused.
	other := id
	other.Subject = "sub-2"
	var refused *SSORefusedError
	if _, err := f.svc.SignInSSO(other, "10.0.0.1"); !errors.As(err, &refused) || !strings.Contains(err.Error(), "another person") {
		t.Errorf("another subject: %v", err)
	}
}

func TestSSONeverTakesOverALocalAccount(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "dave", "dave-local-password", true)
	id := SSOIdentity{Subject: "sub-d", Username: "dave", Email: "d@example.org", AdminChecked: true}
	var refused *SSORefusedError
	if _, err := f.svc.SignInSSO(id, "10.0.0.1"); !errors.As(err, &refused) || !strings.Contains(err.Error(), "link-sso dave") {
		t.Fatalf("unlinked local account: %v", err)
	}
	if _, err := f.svc.LinkSSO(Actor{Name: "root"}, "nobody", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("linking an unknown user: %v", err)
	}
	if _, err := f.svc.LinkSSO(Actor{Name: "root"}, "dave", ""); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.SignInSSO(id, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	// Linked: it keeps its own password and administrator flag.
	if p.User.Source != "" || !p.User.Admin || p.User.OIDCSubject != "sub-d" || p.User.PasswordHash == "" {
		t.Errorf("linked account %+v", p.User)
	}
	if _, err := f.svc.AuthenticatePassword("dave", "dave-local-password", "10.0.0.1"); err != nil {
		t.Errorf("the local password stopped working: %v", err)
	}
	id.Subject = "sub-x"
	if _, err := f.svc.SignInSSO(id, "10.0.0.1"); !errors.As(err, &refused) {
		t.Errorf("a second subject on a bound link: %v", err)
	}
	if _, err := f.svc.SignInSSO(SSOIdentity{Subject: "s", Username: "carol"}, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.LinkSSO(Actor{Name: "root"}, "carol", ""); !errors.Is(err, ErrAlreadySSO) {
		t.Errorf("linking an SSO account: %v", err)
	}
	for _, bad := range []SSOIdentity{{Subject: "s", Username: "Not A Name"}, {Username: "erin"}} {
		if _, err := f.svc.SignInSSO(bad, "10.0.0.1"); !errors.As(err, &refused) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// TestSSOLinkWithSubject: a link that names the provider's subject lets
// only that person in, whoever else the username claim names.
func TestSSOLinkWithSubject(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "dave", "dave-local-password", true)
	if _, err := f.svc.LinkSSO(Actor{Name: "root"}, "dave", "bad\nsub"); err == nil {
		t.Error("a subject with a newline was taken")
	}
	if _, err := f.svc.LinkSSO(Actor{Name: "root"}, "dave", "sub-real-dave"); err != nil {
		t.Fatal(err)
	}
	var refused *SSORefusedError
	impostor := SSOIdentity{Subject: "sub-someone-else", Username: "dave"}
	if _, err := f.svc.SignInSSO(impostor, "10.0.0.9"); !errors.As(err, &refused) {
		t.Fatalf("another subject claiming dave after a link with a subject: %v, want refused", err)
	}
	p, err := f.svc.SignInSSO(SSOIdentity{Subject: "sub-real-dave", Username: "dave"}, "10.0.0.1")
	if err != nil || !p.User.Admin || p.User.OIDCSubject != "sub-real-dave" {
		t.Fatalf("the linked subject: %+v, %v", p.User, err)
	}
}

// TestSSOAccountNeverAsksTheDirectory: a directory entry of an SSO
// account's name does not sign that account in.
func TestSSOAccountNeverAsksTheDirectory(t *testing.T) {
	f, dir := ldapFixture(t, PasswordOptions{})
	if _, err := f.svc.SignInSSO(SSOIdentity{Subject: "s-a", Username: "alice"}, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.0.1"); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("the directory password signed in an SSO account: %v", err)
	}
	if dir.calls() != 0 {
		t.Errorf("directory asked %d times", dir.calls())
	}
}
