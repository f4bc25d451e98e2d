package api_test

import (
	"net/http"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// Passwords of the users every test starts with.
const (
	rootPW  = "root-password-1"
	alicePW = "alice-password-22"
	bobPW   = "bob-password-333"
)

// authFailed is the one body of every 401.
const authFailed = `{"message":"authentication failed"}`

// start runs the public handler over a fresh bbolt file with an
// administrator (root) and two users (alice, bob).
func start(t *testing.T, o testserver.Options) *testserver.Server {
	t.Helper()
	s := testserver.Start(t, o)
	s.AddUser("root", rootPW, true)
	s.AddUser("alice", alicePW, false)
	s.AddUser("bob", bobPW, false)
	return s
}

var (
	basic  = testserver.Basic
	pauth  = testserver.PortusAuth
	fromIP = testserver.FromIP
)

// tokenReq is a request for a token named name with the default scope.
func tokenReq(name string) apitypes.CreateTokenRequest {
	return apitypes.CreateTokenRequest{Name: name}
}

// want401 checks the generic authentication failure.
func want401(t *testing.T, what string, r *testserver.Response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Errorf("%s: %s, want 401", what, r)
		return
	}
	if string(r.Body) != authFailed {
		t.Errorf("%s: body %q, want %q", what, r.Body, authFailed)
	}
	// A Basic challenge would make browsers replay credentials cross-site.
	if got := r.Header.Get("WWW-Authenticate"); got != "" {
		t.Errorf("%s: WWW-Authenticate %q on the JSON API", what, got)
	}
}
