package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

func TestAdminUserEndpoints(t *testing.T) {
	s := start(t, testserver.Options{})
	root, alice := basic("root", rootPW), basic("alice", alicePW)

	r := s.Expect(200, "GET", "/api/v1/users", nil, root)
	if strings.Contains(string(r.Body), "argon2") || strings.Contains(string(r.Body), "password") {
		t.Errorf("the user list shows password hashes: %s", r.Body)
	}
	var users []apitypes.User
	testserver.Decode(t, r, &users)
	if len(users) != 3 || users[0].Name != "alice" || users[1].Name != "bob" || !users[2].Admin {
		t.Errorf("users: %+v", users)
	}

	var carol apitypes.User
	testserver.Decode(t, s.Expect(201, "POST", "/api/v1/users", apitypes.CreateUserRequest{Name: "carol", Password: "carol-password"}, root), &carol)
	if carol.Name != "carol" || carol.Admin || carol.Disabled || !carol.CreatedAt.Equal(s.Clock.Now()) {
		t.Errorf("created %+v", carol)
	}
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("carol", "carol-password"))
	s.Expect(404, "GET", "/api/v1/users/nobody", nil, root)

	// Granting and revoking the admin flag takes effect at the next request.
	s.Expect(403, "GET", "/api/v1/users", nil, alice)
	var u apitypes.User
	testserver.Decode(t, s.Expect(200, "PATCH", "/api/v1/users/alice", `{"admin":true}`, root), &u)
	if !u.Admin {
		t.Errorf("after granting: %+v", u)
	}
	s.Expect(200, "GET", "/api/v1/users", nil, alice)
	s.Expect(200, "PATCH", "/api/v1/users/alice", `{"admin":false}`, root)
	s.Expect(403, "GET", "/api/v1/users", nil, alice)

	var page apitypes.ActivityPage
	testserver.Decode(t, s.Expect(200, "GET", "/api/v1/activities?user=alice", nil, root), &page)
	actions := map[string]bool{}
	for _, a := range page.Activities {
		actions[a.Action] = true
	}
	if !actions["user.admin.grant"] || !actions["user.admin.revoke"] {
		t.Errorf("admin changes not in the audit log: %v", actions)
	}
}

// An administrator lifts the lock someone else's guessing put on a user.
func TestUnlockLiftsThePasswordLock(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	s.AddUser("alice", "alice-password", false)
	for i := 0; i < 10; i++ {
		s.Do(http.MethodGet, "/api/v1/tokens", nil, testserver.Basic("alice", "wrong-password"), testserver.FromIP("203.0.113.1"))
		s.Clock.Advance(2 * time.Minute)
	}
	s.Expect(http.StatusTooManyRequests, http.MethodGet, "/api/v1/tokens", nil, testserver.Basic("alice", "alice-password"))
	s.Expect(http.StatusOK, http.MethodPatch, "/api/v1/users/alice", map[string]bool{"unlock": true}, testserver.Basic("root", "root-password"))
	s.Expect(http.StatusOK, http.MethodGet, "/api/v1/tokens", nil, testserver.Basic("alice", "alice-password"))
}
