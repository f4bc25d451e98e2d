package web

import (
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

func TestActivityReadable(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		a                 model.Activity
		name, by, address string
	}{
		{model.Activity{Action: "token.create", Actor: "alice", TokenName: "ci", ClientIP: "192.0.2.1"}, "Created token 'ci'", "alice", "192.0.2.1"},
		{model.Activity{Action: "session.start", Actor: "alice"}, "Signed in", "alice", ""},
		{model.Activity{Action: "token.rotate", Actor: "alice", TokenName: "ci"}, "Regenerated token 'ci'", "alice", ""},
		{model.Activity{Action: "user.disable", ClientIP: "<nil>"}, "Disabled account", "admin CLI", "admin CLI"},
		{model.Activity{Action: "user.password.change.refused", Actor: "bob"}, "Password change refused", "bob", ""},
		{model.Activity{Action: "something.new"}, "something.new", "", ""},
	} {
		c.a.Time = now.Add(-90 * time.Second)
		r := newActivityRow(c.a, now)
		if r.Name != c.name || r.By != c.by || r.Address != c.address {
			t.Errorf("%s: %q by %q from %q, want %q by %q from %q", c.a.Action, r.Name, r.By, r.Address, c.name, c.by, c.address)
		}
		if r.When != "2030-01-02 03:02:35 UTC" || r.Ago != "1 min ago" {
			t.Errorf("time %q (%q)", r.When, r.Ago)
		}
	}
	for _, c := range []struct {
		action, filter string
		want           bool
	}{
		{"token.create", "token.", true}, {"token.revoke", "token.", true}, {"session.start", "token.", false},
		{"auth.failure", "auth.failure", true}, {"auth.failure.x", "auth.failure", false}, {"user.password.change", "user.", true},
		{"anything", "", true},
	} {
		if got := matchesAction(model.Activity{Action: c.action}, c.filter); got != c.want {
			t.Errorf("matchesAction(%s, %q) = %v", c.action, c.filter, got)
		}
	}
	if validActionFilter("x") || !validActionFilter("token.") {
		t.Error("validActionFilter accepts what is not a choice, or refuses one")
	}
}
