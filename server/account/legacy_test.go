package account

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/portusproject/portus/shared/apitypes"
)

// htpasswdHash is a bcrypt hash as `htpasswd -B` writes it ($2y$).
func htpasswdHash(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return "$2y$" + string(h[4:])
}

func importOne(t *testing.T, f *fixture, name, hash string) apitypes.ImportResult {
	t.Helper()
	res, err := f.svc.ImportUsers(Actor{Name: "test"}, []apitypes.ImportUser{{Name: name, PasswordHash: hash}}, false)
	if err != nil || len(res) != 1 {
		t.Fatalf("ImportUsers: %v %v", res, err)
	}
	return res[0]
}

func storedHash(t *testing.T, f *fixture, name string) string {
	t.Helper()
	u, err := f.svc.UserLookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash
}

func TestLegacyHashSignsInAndIsRehashed(t *testing.T) {
	for _, check := range []struct {
		path string
		auth func(s *Service, name, pw string) (Principal, error)
	}{
		{"web sign-in", func(s *Service, n, pw string) (Principal, error) { return s.AuthenticatePassword(n, pw, "192.0.2.1") }},
		{"API Basic", func(s *Service, n, pw string) (Principal, error) { return s.Authenticate(n, pw, "192.0.2.1") }},
		{"registry token endpoint", func(s *Service, n, pw string) (Principal, error) {
			return s.AuthenticateRegistry(n, pw, "192.0.2.1")
		}},
	} {
		t.Run(check.path, func(t *testing.T) {
			f := newFixture(t, Options{})
			legacy := htpasswdHash(t, "old-pw", bcrypt.MinCost) // shorter than Portus allows: kept anyway
			if r := importOne(t, f, "alice", legacy); r.Result != apitypes.ImportCreated {
				t.Fatalf("import: %+v", r)
			}
			if _, err := check.auth(f.svc, "alice", "wrong-password"); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("wrong password: %v", err)
			}
			if storedHash(t, f, "alice") != legacy {
				t.Fatal("a wrong password changed the legacy hash")
			}
			p, err := check.auth(f.svc, "alice", "old-pw")
			if err != nil || p.User.Name != "alice" {
				t.Fatalf("old password: %v %+v", err, p)
			}
			h := storedHash(t, f, "alice")
			if PasswordScheme(h) != "argon2id" || strings.Contains(h, legacy) || p.User.PasswordHash != h {
				t.Fatalf("after sign-in the stored hash is %q (principal %q)", h, p.User.PasswordHash)
			}
			if _, err := check.auth(f.svc, "alice", "old-pw"); err != nil {
				t.Fatalf("old password with the argon2id hash: %v", err)
			}
			acts, err := f.svc.Activities(Principal{Local: true}, "alice", 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, a := range acts {
				if a.Action == "user.password.rehash" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d user.password.rehash entries, want 1: %+v", n, acts)
			}
		})
	}
}

func TestLegacyWrongPasswordIsThrottled(t *testing.T) {
	f := newFixture(t, Options{})
	importOne(t, f, "alice", htpasswdHash(t, "old-password", bcrypt.MinCost))
	var err error
	for i := 0; i < 10; i++ {
		if _, err = f.svc.AuthenticatePassword("alice", "guess", "192.0.2.7"); !errors.Is(err, ErrAuthFailed) {
			break
		}
	}
	var te *ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("10 wrong passwords: %v, want throttled", err)
	}
	if _, err := f.svc.AuthenticatePassword("alice", "old-password", "192.0.2.7"); !errors.As(err, &te) {
		t.Fatalf("the right password while throttled: %v, want throttled", err)
	}
	if PasswordScheme(storedHash(t, f, "alice")) != "bcrypt" {
		t.Fatal("a throttled attempt rehashed the password")
	}
}

func TestImportUsersRefusesAndSkips(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "bob", "bob-password", false)
	good := htpasswdHash(t, "pw", bcrypt.MinCost)
	users := []apitypes.ImportUser{
		{Name: "alice", PasswordHash: good, Admin: true},
		{Name: "bob", PasswordHash: good},
		{Name: "carol", PasswordHash: "$apr1$/2cRrjI3$mvPO0NxjmIK6856CulHiu0"},
		{Name: "dave", PasswordHash: "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="},
		{Name: "erin", PasswordHash: "$6$salt$" + strings.Repeat("x", 86)},
		{Name: "Frank", PasswordHash: good},
		{Name: "alice", PasswordHash: good},
		{Name: "gina", PasswordHash: htpasswdHash(t, "pw", bcrypt.MinCost)[:50]},
		{Name: "hal", PasswordHash: "$2y$15$" + good[7:]},
	}
	want := []struct{ result, reason string }{
		{apitypes.ImportCreated, ""},
		{apitypes.ImportExists, "exists"},
		{apitypes.ImportRefused, "MD5"},
		{apitypes.ImportRefused, "SHA-1"},
		{apitypes.ImportRefused, "crypt(3)"},
		{apitypes.ImportRefused, "lowercase"},
		{apitypes.ImportRefused, "twice"},
		{apitypes.ImportRefused, "damaged"},
		{apitypes.ImportRefused, "cost 15"},
	}
	for _, dry := range []bool{true, false} {
		res, err := f.svc.ImportUsers(Actor{Name: "test"}, users, dry)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			result := w.result
			if dry && result == apitypes.ImportCreated {
				result = apitypes.ImportWouldCreate
			}
			if res[i].Result != result || !strings.Contains(res[i].Reason, w.reason) {
				t.Errorf("dry=%v %s: %+v, want %s (%s)", dry, users[i].Name, res[i], result, w.reason)
			}
		}
		_, err = f.svc.UserLookup("alice")
		if dry != errors.Is(err, ErrNotFound) {
			t.Fatalf("dry=%v: alice lookup: %v", dry, err)
		}
	}
	if u, _ := f.svc.UserLookup("alice"); !u.Admin || u.PasswordHash != good {
		t.Fatalf("alice as imported: %+v", u)
	}
	if u, _ := f.svc.UserLookup("bob"); PasswordScheme(u.PasswordHash) != "argon2id" {
		t.Fatal("an existing user was changed by the import")
	}
}

// TestLegacyDummyCost: with legacy hashes in the store, a restarted
// service knows their cost and an unknown name runs a dummy bcrypt at it.
func TestLegacyDummyCost(t *testing.T) {
	f := newFixture(t, Options{})
	if _, err := f.svc.AuthenticatePassword("nobody", "some-password", "192.0.2.1"); !errors.Is(err, ErrAuthFailed) {
		t.Fatal(err)
	}
	if len(f.svc.legacy.dummies) != 0 {
		t.Fatal("a dummy bcrypt without any legacy hash")
	}
	importOne(t, f, "alice", htpasswdHash(t, "old-password", 6))
	again, err := New(f.spy, Options{Pepper: testPepper, PasswordParams: cheap, Now: f.clock.Now, Logger: f.svc.log})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Service{f.svc, again} {
		if _, err := s.AuthenticatePassword("nobody", "some-password", "192.0.2.2"); !errors.Is(err, ErrAuthFailed) {
			t.Fatal(err)
		}
		d := s.legacy.dummies[6]
		if c, err := bcrypt.Cost([]byte(d)); err != nil || c != 6 {
			t.Fatalf("dummy bcrypt %q: cost %d, %v; want 6", d, c, err)
		}
	}
}

func TestChangePasswordFromLegacy(t *testing.T) {
	f := newFixture(t, Options{})
	importOne(t, f, "alice", htpasswdHash(t, "old-password", bcrypt.MinCost))
	if _, err := f.svc.ChangePassword(Actor{Name: "alice"}, "alice", "old-password", "new-password-1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticatePassword("alice", "new-password-1", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
}
