package account

import (
	"errors"
	"testing"
)

func TestOwnDockerLoginSwitch(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	state := func() DockerLoginState {
		u, err := f.svc.UserLookup("alice")
		if err != nil {
			t.Fatal(err)
		}
		return f.svc.DockerLoginOf(u)
	}
	if got := state(); got != (DockerLoginState{Policy: DockerLoginPasswordsAllowed, Source: "server"}) || got.Locked() {
		t.Fatalf("fresh account: %+v", got)
	}
	alice := Actor{Name: "alice", IP: "192.0.2.1"}
	if _, err := f.svc.SetOwnDockerLogin(alice, "alice", true); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != (DockerLoginState{Policy: DockerLoginTokensOnly, Source: "user"}) {
		t.Fatalf("after ticking: %+v", got)
	}
	if _, err := f.svc.AuthenticateRegistry("alice", "alice-password", "192.0.2.1"); !errors.As(err, new(*TokensRequiredError)) {
		t.Fatalf("password at the registry after ticking: %v, want TokensRequiredError", err)
	}
	if _, err := f.svc.SetOwnDockerLogin(alice, "alice", false); err != nil {
		t.Fatal(err)
	}
	if got := state(); got.Source != "server" || got.Policy != DockerLoginPasswordsAllowed {
		t.Fatalf("after unticking: %+v", got)
	}

	// An administrator's setting wins: the user can no longer change it.
	tokensOnly := DockerLoginTokensOnly
	if _, err := f.svc.UpdateUser(Actor{Name: "root"}, "alice", UserChange{DockerLogin: &tokensOnly}); err != nil {
		t.Fatal(err)
	}
	if got := state(); got != (DockerLoginState{Policy: DockerLoginTokensOnly, Source: "admin", By: "root"}) || !got.Locked() {
		t.Fatalf("set by an administrator: %+v", got)
	}
	for _, on := range []bool{false, true} {
		if _, err := f.svc.SetOwnDockerLogin(alice, "alice", on); !errors.Is(err, ErrDockerLoginLocked) {
			t.Errorf("user changing an administrator's setting (%v): %v, want ErrDockerLoginLocked", on, err)
		}
	}
	if got := state(); got.Source != "admin" {
		t.Errorf("the refused change changed the setting: %+v", got)
	}
	acts := activityActions(t, f)
	for _, want := range []string{"user.docker_login.tokens_only", "user.docker_login.default"} {
		if acts[want] == 0 {
			t.Errorf("no %s in the audit log: %v", want, acts)
		}
	}
}

func TestServerTokensOnlyLocksTheSwitch(t *testing.T) {
	f := newFixture(t, Options{Passwords: PasswordOptions{DockerLogin: DockerLoginTokensOnly}})
	f.user(t, "bob", "bob-password", false)
	u, _ := f.svc.UserLookup("bob")
	st := f.svc.DockerLoginOf(u)
	if st != (DockerLoginState{Policy: DockerLoginTokensOnly, Source: "server"}) || !st.Locked() {
		t.Fatalf("under a server-wide tokens_only: %+v", st)
	}
	if _, err := f.svc.SetOwnDockerLogin(Actor{Name: "bob"}, "bob", false); !errors.Is(err, ErrDockerLoginLocked) {
		t.Errorf("turning it off under the server's tokens_only: %v", err)
	}
	if st, err := f.svc.SetOwnDockerLogin(Actor{Name: "bob"}, "bob", true); err != nil || st.Source != "server" {
		t.Errorf("ticking what the server already enforces: %+v, %v", st, err)
	}
}

func TestWrongCurrentPasswordIsAudited(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "carol", "carol-password", false)
	_, err := f.svc.ChangePassword(Actor{Name: "carol", IP: "192.0.2.9"}, "carol", "not-her-password", "new-password-1", false)
	if !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("ChangePassword with a wrong current password: %v", err)
	}
	all, err := f.svc.Activities(Principal{Local: true}, "carol", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if a.Action == "user.password.change.refused" && a.Actor == "carol" && a.Subject == "carol" && a.ClientIP == "192.0.2.9" {
			if a.Detail != "the current password was wrong" {
				t.Errorf("detail %q", a.Detail)
			}
			return
		}
	}
	t.Fatalf("no user.password.change.refused entry in carol's history: %+v", all)
}

func activityActions(t *testing.T, f *fixture) map[string]int {
	t.Helper()
	all, err := f.svc.Activities(Principal{Local: true}, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, a := range all {
		n[a.Action]++
	}
	return n
}
