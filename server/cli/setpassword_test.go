package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSetPassword: an administrator resets a password from stdin, offline
// and over the running server's socket; the old one stops working, the
// new one works, and the password is never an argument.
func TestSetPassword(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	ok(t, "root-password-1\n", "user", "create", "root", "--admin", "--password-stdin", "--data", data)
	ok(t, "bob-password-22\n", "user", "create", "bob", "--password-stdin", "--data", data)
	r := ok(t, "bob-password-33\n", "user", "set-password", "bob", "--password-stdin", "--data", data)
	if !strings.Contains(r.stderr, `Set a new password for "bob"`) || strings.Contains(r.stderr+r.stdout, "bob-password-33") {
		t.Errorf("offline set-password says %q", r.stderr)
	}
	for _, c := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no --password-stdin", "bob-password-44\n", []string{"user", "set-password", "bob"}, "--password-stdin"},
		{"password as an argument", "", []string{"user", "set-password", "bob", "bob-password-44"}, "Usage"},
		{"short password", "short\n", []string{"user", "set-password", "bob", "--password-stdin"}, "password:"},
		{"unknown user", "carol-password-1\n", []string{"user", "set-password", "carol", "--password-stdin"}, "not found"},
	} {
		r := portus(t, c.stdin, append(c.args, "--data", data)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "password-44") {
			t.Errorf("%s: exit %d, stderr %q; want a failure mentioning %q", c.name, r.code, r.stderr, c.want)
		}
	}

	s := serve(t, data)
	if code, _ := s.get(t, "/api/v1/tokens", "bob", "bob-password-22"); code != 401 {
		t.Errorf("bob's old password after the reset: %d, want 401", code)
	}
	if code, _ := s.get(t, "/api/v1/tokens", "bob", "bob-password-33"); code != 200 {
		t.Errorf("bob's new password: %d, want 200", code)
	}
	ok(t, "bob-password-55\n", "user", "set-password", "bob", "--password-stdin", "--data", data) // over the socket
	if code, _ := s.get(t, "/api/v1/tokens", "bob", "bob-password-33"); code != 401 {
		t.Errorf("the second reset left the previous password working: %d", code)
	}
	if code, _ := s.get(t, "/api/v1/tokens", "bob", "bob-password-55"); code != 200 {
		t.Errorf("bob's password from the socket: %d, want 200", code)
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
