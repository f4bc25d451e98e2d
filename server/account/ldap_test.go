package account

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/portusproject/portus/server/ldapauth"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apptoken"
)

// fakeDirectory is an in-memory Directory that records every password it
// is asked about. The real one (slapd) is exercised by the ldapauth and
// api tests.
type fakeDirectory struct {
	mu      sync.Mutex
	users   map[string]fakeEntry
	down    bool
	asked   []string // passwords, in order
	askedBy []string // names, in order
}

type fakeEntry struct {
	password string
	entry    ldapauth.Entry
}

func newFakeDirectory() *fakeDirectory {
	return &fakeDirectory{users: map[string]fakeEntry{
		"alice": {"alice-ldap-pw", ldapauth.Entry{DN: "uid=alice", Name: "alice", Email: "alice@example.org", DisplayName: "Alice Liddell", AdminGroupChecked: true, Admin: true}},
		"bob":   {"bob-ldap-pw", ldapauth.Entry{DN: "uid=bob", Name: "bob", Email: "bob@example.org", DisplayName: "Bob Builder", AdminGroupChecked: true}},
		"root":  {"root-ldap-pw", ldapauth.Entry{DN: "uid=root", Name: "root", AdminGroupChecked: true}},
	}}
}

func (d *fakeDirectory) Authenticate(name, password string) (ldapauth.Entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, password)
	d.askedBy = append(d.askedBy, name)
	if d.down {
		return ldapauth.Entry{}, ldapauth.ErrUnavailable
	}
	u, ok := d.users[name]
	switch {
	case !ok:
		return ldapauth.Entry{}, ldapauth.ErrNoSuchUser
	case password == "" || password != u.password:
		return ldapauth.Entry{}, ldapauth.ErrInvalidCredentials
	}
	return u.entry, nil
}

func (d *fakeDirectory) calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.asked)
}

func (d *fakeDirectory) setAdmin(name string, admin bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.users[name]
	u.entry.Admin = admin
	d.users[name] = u
}

func (d *fakeDirectory) setDown(down bool) {
	d.mu.Lock()
	d.down = down
	d.mu.Unlock()
}

func ldapFixture(t *testing.T, p PasswordOptions) (*fixture, *fakeDirectory) {
	t.Helper()
	dir := newFakeDirectory()
	p.Directory = dir
	return newFixture(t, Options{Passwords: p}), dir
}

func TestDirectorySignInCreatesTheUser(t *testing.T) {
	f, dir := ldapFixture(t, PasswordOptions{})
	p, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.UserLookup("alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.Source != model.SourceLDAP || u.PasswordHash != "" || u.Email != "alice@example.org" || u.DisplayName != "Alice Liddell" || !u.Admin {
		t.Errorf("created %+v", u)
	}
	if p.User.Name != "alice" || !p.User.Admin || p.Token != nil {
		t.Errorf("principal %+v", p)
	}
	acts, _ := f.svc.store.Activities(model.ActivityQuery{User: "alice"})
	if len(acts) != 1 || acts[0].Action != "user.create" || !strings.Contains(acts[0].Detail, "LDAP") {
		t.Errorf("audit %+v", acts)
	}
	// The next sign-in neither creates nor writes anything.
	writes := f.spy.Writes()
	if _, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if w := f.spy.Writes() - writes; w != 0 {
		t.Errorf("an unchanged sign-in wrote %d times", w)
	}
	if dir.calls() != 2 {
		t.Errorf("directory asked %d times, want 2", dir.calls())
	}
	// Users without a directory entry stay unknown, and are not created.
	if _, err := f.svc.AuthenticatePassword("mallory", "whatever-pw", "10.0.0.1"); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := f.svc.UserLookup("mallory"); !errors.Is(err, ErrNotFound) {
		t.Errorf("mallory was created: %v", err)
	}
}

func TestDirectoryGroupRefreshesAdmin(t *testing.T) {
	f, dir := ldapFixture(t, PasswordOptions{})
	admin := func() bool {
		t.Helper()
		p, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := f.svc.UserLookup("alice")
		if u.Admin != p.User.Admin {
			t.Fatalf("principal admin %v, stored %v", p.User.Admin, u.Admin)
		}
		return u.Admin
	}
	if !admin() {
		t.Fatal("alice is in the group")
	}
	dir.setAdmin("alice", false)
	if admin() {
		t.Fatal("removed from the group, alice is still an administrator after signing in")
	}
	dir.setAdmin("alice", true)
	if !admin() {
		t.Fatal("back in the group, alice is not an administrator")
	}
	acts, _ := f.svc.store.Activities(model.ActivityQuery{User: "alice"})
	var got []string
	for _, a := range acts {
		got = append(got, a.Action)
	}
	if strings.Join(got, " ") != "user.admin.grant user.admin.revoke user.create" {
		t.Errorf("audit %v", got)
	}

	// Without an admin group, the flag is Portus's to manage.
	d := dir.users["bob"]
	d.entry.AdminGroupChecked = false
	dir.users["bob"] = d
	if _, err := f.svc.AuthenticatePassword("bob", "bob-ldap-pw", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := f.svc.UpdateUser(Actor{Name: "root"}, "bob", UserChange{Admin: &yes}); err != nil {
		t.Fatal(err)
	}
	if p, err := f.svc.AuthenticatePassword("bob", "bob-ldap-pw", "10.0.0.1"); err != nil || !p.User.Admin {
		t.Errorf("without a group the directory took bob's admin flag: %+v %v", p.User, err)
	}
}

func TestDirectoryRefusals(t *testing.T) {
	f, dir := ldapFixture(t, PasswordOptions{})
	for _, tc := range []struct{ name, password string }{
		{"alice", "wrong-password"},
		{"alice", "bob-ldap-pw"},
		{"alice", ""},
		{"Alice", "alice-ldap-pw"}, // not a valid Portus username
		{"alice)(uid=*", "alice-ldap-pw"},
	} {
		if _, err := f.svc.AuthenticatePassword(tc.name, tc.password, "10.0.0.2"); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("%q/%q: %v, want ErrAuthFailed", tc.name, tc.password, err)
		}
		f.clock.Advance(11 * 60e9) // past any throttle delay
	}
	for _, pw := range dir.asked {
		if pw == "" {
			t.Error("an empty password was sent to the directory")
		}
	}
	for _, name := range dir.askedBy {
		if name != "alice" {
			t.Errorf("%q was sent to the directory", name)
		}
	}
	if dir.calls() != 2 {
		t.Errorf("directory asked %d times, want 2 (the two wrong passwords)", dir.calls())
	}
	// Each failed attempt counts once: three make the next one wait.
	f2, dir2 := ldapFixture(t, PasswordOptions{})
	for range 3 {
		if _, err := f2.svc.AuthenticatePassword("bob", "wrong-password", "10.0.0.3"); !errors.Is(err, ErrAuthFailed) {
			t.Fatal(err)
		}
	}
	_, err := f2.svc.AuthenticatePassword("bob", "bob-ldap-pw", "10.0.0.3")
	wantThrottled(t, err, 1, 2*1e9)
	if dir2.calls() != 3 {
		t.Errorf("directory asked %d times for 3 attempts and a throttled one", dir2.calls())
	}
}

// TestTokenShapedSecretsNeverReachTheDirectory: a mistyped token is not a
// password, on any path, and a wrong token is not a password failure.
func TestTokenShapedSecretsNeverReachTheDirectory(t *testing.T) {
	f, dir := ldapFixture(t, PasswordOptions{DirectoryFirst: true})
	if _, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.0.4"); err != nil {
		t.Fatal(err)
	}
	_, token := f.token(t, "alice", "ci")
	typo := token[:len(token)-1] + map[bool]string{true: "B", false: "A"}[token[len(token)-1] == 'A']
	if !apptoken.LooksLike(typo) || apptoken.Valid(typo) {
		t.Fatal("the typo should look like a token and fail its checksum")
	}
	wellFormedUnknown, _ := apptoken.New()
	before := dir.calls()
	for range 12 {
		for _, secret := range []string{typo, wellFormedUnknown} {
			if _, err := f.svc.Authenticate("alice", secret, "10.0.0.5"); !errors.Is(err, ErrAuthFailed) {
				var te *ThrottledError
				if !errors.As(err, &te) {
					t.Fatalf("Authenticate with a bad token: %v", err)
				}
			}
			if _, err := f.svc.AuthenticateRegistry("alice", secret, "10.0.0.5"); err == nil {
				t.Fatal("AuthenticateRegistry accepted a bad token")
			}
		}
	}
	// The web sign-in takes passwords only: a token there is refused, and
	// still not sent to the directory.
	for _, secret := range []string{typo, token} {
		if _, err := f.svc.AuthenticatePassword("alice", secret, "10.0.0.6"); !errors.Is(err, ErrAuthFailed) {
			t.Errorf("AuthenticatePassword with a token: %v", err)
		}
	}
	if n := dir.calls() - before; n != 0 {
		t.Fatalf("token-shaped secrets reached the directory %d times", n)
	}
	// The bad tokens did not lock alice's password, from another address.
	if _, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.0.7"); err != nil {
		t.Errorf("after bad tokens, alice's directory password: %v", err)
	}
	if _, err := f.svc.Authenticate("alice", token, "10.0.0.8"); err != nil {
		t.Errorf("the good token: %v", err)
	}
}

// TestOrder: the first backend that knows the name decides.
func TestOrder(t *testing.T) {
	for _, first := range []bool{false, true} {
		name := map[bool]string{false: "local,ldap", true: "ldap,local"}[first]
		t.Run(name, func(t *testing.T) {
			f, dir := ldapFixture(t, PasswordOptions{DirectoryFirst: first})
			// root is a local account, and the directory has a root too.
			f.user(t, "root", "root-local-pw", true)
			f.user(t, "carol", "carol-local-pw", false) // local only
			check := func(user, pw string, ok bool) {
				t.Helper()
				f.clock.Advance(11 * 60e9)
				_, err := f.svc.AuthenticatePassword(user, pw, "10.0.1.1")
				if ok && err != nil || !ok && !errors.Is(err, ErrAuthFailed) {
					t.Errorf("%s with %s: %v, want ok=%v", user, pw, err, ok)
				}
			}
			check("carol", "carol-local-pw", true)
			check("alice", "alice-ldap-pw", true)
			before := dir.calls()
			if first {
				check("root", "root-ldap-pw", true)
				check("root", "root-local-pw", false)
				if dir.calls()-before != 2 {
					t.Errorf("directory asked %d times for root", dir.calls()-before)
				}
				// Signed in by the directory, the local account keeps its
				// own admin flag (the directory's root is not in the group).
				if u, _ := f.svc.UserLookup("root"); !u.Admin || u.Source != "" {
					t.Errorf("root changed: %+v", u)
				}
			} else {
				check("root", "root-local-pw", true)
				check("root", "root-ldap-pw", false)
				if dir.calls() != before {
					t.Error("the directory was asked about an account with a local password")
				}
			}

			// Directory down: local passwords keep working; LDAP accounts
			// get ErrDirectoryUnavailable, which the throttle does not count.
			dir.setDown(true)
			check("carol", "carol-local-pw", true)
			check("root", "root-local-pw", true)
			for range 5 {
				_, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.1.2")
				if !errors.Is(err, ErrDirectoryUnavailable) {
					t.Fatalf("alice with the directory down: %v", err)
				}
			}
			dir.setDown(false)
			if _, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.1.2"); err != nil {
				t.Errorf("after the outage: %v (the outage must not count as failures)", err)
			}
		})
	}
}

func TestDockerLoginPolicy(t *testing.T) {
	f, dir := ldapFixture(t, PasswordOptions{DockerLogin: DockerLoginTokensOnly, ProfileURL: "https://portus.example.org/profile"})
	f.user(t, "carol", "carol-local-pw", false)
	if _, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.2.1"); err != nil {
		t.Fatal(err)
	}
	_, token := f.token(t, "alice", "laptop")
	before := dir.calls()

	_, err := f.svc.AuthenticateRegistry("alice", "alice-ldap-pw", "10.0.2.1")
	var tr *TokensRequiredError
	if !errors.As(err, &tr) || !strings.Contains(err.Error(), "https://portus.example.org/profile") || !strings.Contains(err.Error(), "token") {
		t.Fatalf("password under tokens_only: %v", err)
	}
	if dir.calls() != before {
		t.Error("a refused password was sent to the directory")
	}
	if _, err := f.svc.AuthenticateRegistry("carol", "carol-local-pw", "10.0.2.1"); !errors.As(err, &tr) {
		t.Errorf("local password under tokens_only: %v", err)
	}
	if _, err := f.svc.AuthenticateRegistry("nobody", "some-password", "10.0.2.1"); !errors.As(err, &tr) {
		t.Errorf("unknown user under tokens_only: %v", err)
	}
	if p, err := f.svc.AuthenticateRegistry("alice", token, "10.0.2.1"); err != nil || p.Token == nil {
		t.Errorf("token under tokens_only: %v", err)
	}
	// Refusals are throttled like failed guesses, or a loop of them would
	// run at full speed (and fill the audit log); the user, signing in
	// from an address she used before, is not locked out by them.
	var throttled *ThrottledError
	for i := range 12 {
		_, err := f.svc.AuthenticateRegistry("alice", "alice-ldap-pw", "10.0.9.9")
		if errors.As(err, &throttled) {
			break
		}
		if i == 11 {
			t.Fatalf("12 refusals from one address met no throttle: %v", err)
		}
	}
	if _, err := f.svc.AuthenticatePassword("alice", "alice-ldap-pw", "10.0.2.1"); err != nil {
		t.Errorf("after someone else's refusals, the web sign-in: %v", err)
	}

	// A per-user override wins over the server's policy, both ways.
	allowed, only, def := DockerLoginPasswordsAllowed, DockerLoginTokensOnly, ""
	if _, err := f.svc.UpdateUser(Actor{Name: "root"}, "carol", UserChange{DockerLogin: &allowed}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateRegistry("carol", "carol-local-pw", "10.0.2.1"); err != nil {
		t.Errorf("carol with passwords_allowed: %v", err)
	}
	// An exception to the server's policy is not told apart by a wrong
	// password: it gets the server's answer, like every other name.
	if _, err := f.svc.AuthenticateRegistry("carol", "wrong-password", "10.0.2.5"); !errors.As(err, &tr) {
		t.Errorf("carol's exception, wrong password: %v, want the server's tokens_only answer", err)
	}
	if _, err := f.svc.UpdateUser(Actor{Name: "root"}, "carol", UserChange{DockerLogin: &def}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateRegistry("carol", "carol-local-pw", "10.0.2.1"); !errors.As(err, &tr) {
		t.Errorf("carol back on the server's policy: %v", err)
	}

	g, _ := ldapFixture(t, PasswordOptions{})
	g.user(t, "dave", "dave-local-pw", false)
	if _, err := g.svc.AuthenticateRegistry("dave", "dave-local-pw", "10.0.2.2"); err != nil {
		t.Errorf("passwords_allowed: %v", err)
	}
	if _, err := g.svc.UpdateUser(Actor{Name: "root"}, "dave", UserChange{DockerLogin: &only}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.svc.AuthenticateRegistry("dave", "dave-local-pw", "10.0.2.2"); !errors.As(err, &tr) {
		t.Errorf("dave with tokens_only on a passwords_allowed server: %v", err)
	}
	bad := "tokens"
	var fe *FieldError
	if _, err := g.svc.UpdateUser(Actor{Name: "root"}, "dave", UserChange{DockerLogin: &bad}); !errors.As(err, &fe) {
		t.Errorf("a bad policy: %v", err)
	}
	acts, _ := g.svc.store.Activities(model.ActivityQuery{User: "dave"})
	if len(acts) != 3 || acts[0].Action != "auth.failure" || !strings.Contains(acts[0].Detail, "tokens_only") ||
		acts[1].Action != "user.docker_login.tokens_only" || acts[1].Actor != "root" {
		t.Errorf("audit %+v", acts)
	}
	// A wrong password reads as for any name: an outsider cannot tell that
	// dave has his own policy.
	if _, err := g.svc.AuthenticateRegistry("dave", "not-daves-password", "10.0.2.3"); err != ErrAuthFailed {
		t.Errorf("dave's policy, wrong password: %v, want ErrAuthFailed like an unknown name", err)
	}
	if _, err := g.svc.AuthenticateRegistry("nobody", "not-daves-password", "10.0.2.4"); err != ErrAuthFailed {
		t.Errorf("unknown name: %v", err)
	}
}

func TestLDAPAccountsHaveNoLocalPassword(t *testing.T) {
	f, _ := ldapFixture(t, PasswordOptions{})
	if _, err := f.svc.AuthenticatePassword("bob", "bob-ldap-pw", "10.0.3.1"); err != nil {
		t.Fatal(err)
	}
	pw := "a-new-local-password"
	var fe *FieldError
	if _, err := f.svc.UpdateUser(Actor{Name: "root"}, "bob", UserChange{Password: &pw}); !errors.As(err, &fe) {
		t.Errorf("setting a local password on an LDAP account: %v", err)
	}
	if _, err := f.svc.ChangePassword(Actor{Name: "bob"}, "bob", "bob-ldap-pw", pw, false); !errors.As(err, &fe) {
		t.Errorf("ChangePassword for an LDAP account: %v", err)
	}
	if u, _ := f.svc.UserLookup("bob"); u.PasswordHash != "" {
		t.Error("bob has a local password")
	}
	// A disabled LDAP account stays disabled whatever the directory says.
	yes := true
	if _, err := f.svc.UpdateUser(Actor{Name: "root"}, "bob", UserChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticatePassword("bob", "bob-ldap-pw", "10.0.3.1"); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("disabled LDAP account: %v", err)
	}
}
