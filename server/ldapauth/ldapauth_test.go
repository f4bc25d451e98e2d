package ldapauth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/ldapauth"
	"github.com/portusproject/portus/server/ldapauth/ldaptest"
)

func newClient(t *testing.T, cfg ldapauth.Config) *ldapauth.Client {
	t.Helper()
	c, err := ldapauth.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestAuthenticate(t *testing.T) {
	dir := ldaptest.Start(t)
	c := newClient(t, dir.Config())

	alice, err := c.Authenticate("alice", ldaptest.AlicePassword)
	if err != nil {
		t.Fatalf("alice: %v", err)
	}
	want := ldapauth.Entry{DN: ldaptest.UserDN("alice"), Name: "alice", Email: "alice@example.org",
		DisplayName: "Alice Liddell", AdminGroupChecked: true, Admin: true}
	if alice != want {
		t.Errorf("alice = %+v, want %+v", alice, want)
	}
	bob, err := c.Authenticate("bob", ldaptest.BobPassword)
	if err != nil {
		t.Fatalf("bob: %v", err)
	}
	if !bob.AdminGroupChecked || bob.Admin || bob.Email != "bob@example.org" || bob.DisplayName != "Bob Builder" {
		t.Errorf("bob = %+v", bob)
	}

	// The directory matches uid case-insensitively; the entry says how it
	// spells the name.
	if e, err := c.Authenticate("ALICE", ldaptest.AlicePassword); err != nil || e.Name != "alice" {
		t.Errorf("ALICE: %+v, %v", e, err)
	}

	for _, tc := range []struct {
		name, user, password string
		want                 error
	}{
		{"wrong password", "alice", "not-her-password", ldapauth.ErrInvalidCredentials},
		{"another user's password", "alice", ldaptest.BobPassword, ldapauth.ErrInvalidCredentials},
		{"empty password", "alice", "", ldapauth.ErrInvalidCredentials},
		{"unknown user", "mallory", "whatever-password", ldapauth.ErrNoSuchUser},
		{"empty name", "", "whatever-password", ldapauth.ErrNoSuchUser},
		// Filter metacharacters are escaped: a wildcard matches nobody.
		{"wildcard", "*", ldaptest.AlicePassword, ldapauth.ErrNoSuchUser},
		{"injection", "alice)(uid=*", ldaptest.AlicePassword, ldapauth.ErrNoSuchUser},
		{"service account", "portus", ldaptest.ServicePassword, ldapauth.ErrNoSuchUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Authenticate(tc.user, tc.password)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if err != nil && tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Errorf("the error holds the password: %v", err)
			}
		})
	}
}

// TestEmptyPasswordNeverSent: an empty password would be an anonymous
// bind, which the directory accepts. It must not reach the directory.
func TestEmptyPasswordNeverSent(t *testing.T) {
	dir := ldaptest.Start(t)
	c := newClient(t, dir.Config())
	if _, err := c.Authenticate("alice", ""); !errors.Is(err, ldapauth.ErrInvalidCredentials) {
		t.Fatalf("empty password: %v", err)
	}
	if _, err := c.Authenticate("alice", ldaptest.AlicePassword); err != nil {
		t.Fatal(err)
	}
	// One bind, the good one: the empty password was never sent, nor was
	// even the service account's bind for it.
	if n := dir.WaitBinds(ldaptest.UserDN("alice"), 1); n != 1 {
		t.Errorf("alice's DN was bound %d times, want 1", n)
	}
	if n := dir.Binds(ldaptest.ServiceDN); n != 1 {
		t.Errorf("the service account was bound %d times, want 1", n)
	}
}

// TestOneBindPerAttempt: a wrong password is one bind as the user, never
// retried, so the directory's own lockout counts one failure.
func TestOneBindPerAttempt(t *testing.T) {
	dir := ldaptest.Start(t)
	c := newClient(t, dir.Config())
	for range 3 {
		if _, err := c.Authenticate("bob", "wrong-password"); !errors.Is(err, ldapauth.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if _, err := c.Authenticate("bob", ldaptest.BobPassword); err != nil {
		t.Fatal(err)
	}
	if n := dir.WaitBinds(ldaptest.UserDN("bob"), 4); n != 4 {
		t.Errorf("bob's DN was bound %d times for 4 attempts", n)
	}
	time.Sleep(100 * time.Millisecond)
	if n := dir.Binds(ldaptest.UserDN("bob")); n != 4 {
		t.Errorf("bob's DN was bound %d times for 4 attempts", n)
	}
}

func TestAdminGroupFollowsTheDirectory(t *testing.T) {
	dir := ldaptest.Start(t)
	c := newClient(t, dir.Config())
	admin := func(name, password string) bool {
		t.Helper()
		e, err := c.Authenticate(name, password)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return e.Admin
	}
	if !admin("alice", ldaptest.AlicePassword) || admin("bob", ldaptest.BobPassword) {
		t.Fatal("the fixture's group is alice only")
	}
	dir.RemoveAdmin(t, "alice")
	dir.AddAdmin(t, "bob")
	if admin("alice", ldaptest.AlicePassword) || !admin("bob", ldaptest.BobPassword) {
		t.Fatal("group changes are not seen at the next authentication")
	}

	// No group configured: not checked.
	cfg := dir.Config()
	cfg.AdminGroup = ""
	if e, err := newClient(t, cfg).Authenticate("bob", ldaptest.BobPassword); err != nil || e.AdminGroupChecked || e.Admin {
		t.Errorf("without a group: %+v, %v", e, err)
	}
	// A group that does not exist has no members.
	cfg.AdminGroup = "cn=nobody,ou=groups," + ldaptest.Base
	if e, err := newClient(t, cfg).Authenticate("bob", ldaptest.BobPassword); err != nil || !e.AdminGroupChecked || e.Admin {
		t.Errorf("with a missing group: %+v, %v", e, err)
	}
}

func TestServiceAccount(t *testing.T) {
	dir := ldaptest.Start(t)
	// Anonymous clients may not search this directory: its ACL hides the
	// base. That is a configuration problem, not a wrong password.
	cfg := dir.Config()
	cfg.BindDN, cfg.BindPassword = "", ""
	if _, err := newClient(t, cfg).Authenticate("alice", ldaptest.AlicePassword); !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Errorf("anonymous search: %v, want ErrUnavailable", err)
	}
	// A wrong service password is the server's problem, not the user's.
	cfg = dir.Config()
	cfg.BindPassword = "wrong-service-password"
	_, err := newClient(t, cfg).Authenticate("alice", ldaptest.AlicePassword)
	if !errors.Is(err, ldapauth.ErrUnavailable) || !strings.Contains(err.Error(), "service account") {
		t.Errorf("wrong service password: %v", err)
	}
	if strings.Contains(err.Error(), ldaptest.AlicePassword) || strings.Contains(err.Error(), cfg.BindPassword) {
		t.Errorf("the error holds a password: %v", err)
	}
}

func TestFilterAndUIDAttribute(t *testing.T) {
	dir := ldaptest.Start(t)
	cfg := dir.Config()
	// A filter that finds people by mail as well: the entry found must
	// still carry the name asked for in its uid.
	cfg.Filter = "(|(uid=%s)(mail=%s))"
	c := newClient(t, cfg)
	if _, err := c.Authenticate("alice", ldaptest.AlicePassword); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if _, err := c.Authenticate("alice@example.org", ldaptest.AlicePassword); !errors.Is(err, ldapauth.ErrAmbiguous) {
		t.Errorf("by mail: %v, want ErrAmbiguous (the uid is not the name asked for)", err)
	}
	// A filter that matches everybody is refused, not answered with the
	// first entry.
	cfg.Filter = "(|(uid=%s)(objectClass=inetOrgPerson))"
	if _, err := newClient(t, cfg).Authenticate("alice", ldaptest.AlicePassword); !errors.Is(err, ldapauth.ErrAmbiguous) {
		t.Errorf("a filter matching two entries: %v, want ErrAmbiguous", err)
	}
}

func TestDirectoryDown(t *testing.T) {
	dir := ldaptest.Start(t)
	c := newClient(t, dir.Config())
	if _, err := c.Authenticate("alice", ldaptest.AlicePassword); err != nil {
		t.Fatal(err)
	}
	dir.Kill()
	start := time.Now()
	_, err := c.Authenticate("alice", ldaptest.AlicePassword)
	if !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Fatalf("with slapd killed: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > c.Timeout() {
		t.Errorf("took %s, more than the timeout %s", d, c.Timeout())
	}
}

// TestDirectoryHung: the port accepts connections but nothing answers.
// The whole attempt ends within the timeout.
func TestDirectoryHung(t *testing.T) {
	dir := ldaptest.Start(t)
	cfg := dir.Config()
	cfg.Timeout = 300 * time.Millisecond
	c := newClient(t, cfg)
	dir.Freeze()
	defer dir.Thaw()
	start := time.Now()
	_, err := c.Authenticate("alice", ldaptest.AlicePassword)
	d := time.Since(start)
	if !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Fatalf("with slapd frozen: %v, want ErrUnavailable", err)
	}
	if d < cfg.Timeout/2 || d > cfg.Timeout+200*time.Millisecond {
		t.Errorf("took %s with a timeout of %s", d, cfg.Timeout)
	}
}

// TestDialTimeout: an address that never answers the SYN.
func TestDialTimeout(t *testing.T) {
	// A TEST-NET address: either nothing answers (the dial times out) or
	// the network says at once that there is no route; both are bounded.
	c := newClient(t, ldapauth.Config{URL: "ldap://192.0.2.1:389", Base: ldaptest.Base, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := c.Authenticate("alice", "password")
	if !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Errorf("took %s with a timeout of 200ms", d)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	ok := ldapauth.Config{URL: "ldap://localhost", Base: ldaptest.Base}
	for _, tc := range []struct {
		name   string
		change func(*ldapauth.Config)
		want   string
	}{
		{"scheme", func(c *ldapauth.Config) { c.URL = "http://localhost" }, "scheme"},
		{"no host", func(c *ldapauth.Config) { c.URL = "ldap://" }, "ldap://HOST"},
		{"path", func(c *ldapauth.Config) { c.URL = "ldap://localhost/dc=x" }, "ldap://HOST"},
		{"ldaps with StartTLS", func(c *ldapauth.Config) { c.URL = "ldaps://localhost"; c.StartTLS = true }, "StartTLS"},
		{"no base", func(c *ldapauth.Config) { c.Base = "" }, "base"},
		{"bad base", func(c *ldapauth.Config) { c.Base = "not a dn" }, "base"},
		{"filter without %s", func(c *ldapauth.Config) { c.Filter = "(uid=alice)" }, "%s"},
		{"unbalanced filter", func(c *ldapauth.Config) { c.Filter = "(uid=%s" }, "filter"},
		{"bind DN without password", func(c *ldapauth.Config) { c.BindDN = ldaptest.ServiceDN }, "password"},
		{"bad group", func(c *ldapauth.Config) { c.AdminGroup = "admins" }, "admin group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.change(&cfg)
			_, err := ldapauth.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := ldapauth.New(ok); err != nil {
		t.Errorf("a good configuration: %v", err)
	}
}

func TestTLS(t *testing.T) {
	dir := ldaptest.StartWith(t, ldaptest.Options{TLS: true})
	pool, err := ldapauth.LoadCAFile(dir.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ldaps", func(t *testing.T) {
		cfg := dir.Config()
		cfg.URL, cfg.RootCAs = dir.LDAPSURL, pool
		c := newClient(t, cfg)
		if !c.Encrypted() {
			t.Error("Encrypted() = false for ldaps://")
		}
		if _, err := c.Authenticate("alice", ldaptest.AlicePassword); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("StartTLS", func(t *testing.T) {
		cfg := dir.Config()
		cfg.StartTLS, cfg.RootCAs = true, pool
		c := newClient(t, cfg)
		if !c.Encrypted() {
			t.Error("Encrypted() = false with StartTLS")
		}
		if _, err := c.Authenticate("alice", ldaptest.AlicePassword); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		// The system's roots do not know the test CA: nothing is sent
		// after the failed handshake, the password least of all.
		// The two subtests above bound once each (slapd logs asynchronously).
		before := dir.WaitBinds(ldaptest.UserDN("alice"), 2)
		startTLS := dir.Config()
		startTLS.StartTLS = true
		ldaps := dir.Config()
		ldaps.URL = dir.LDAPSURL
		for _, cfg := range []ldapauth.Config{startTLS, ldaps} {
			_, err := newClient(t, cfg).Authenticate("alice", ldaptest.AlicePassword)
			if !errors.Is(err, ldapauth.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("%s with an unknown CA: %v, want ErrUnavailable for the certificate", cfg.URL, err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		if n := dir.Binds(ldaptest.UserDN("alice")); n != before {
			t.Errorf("alice's DN was bound %d times with an untrusted certificate", n-before)
		}
	})
}
