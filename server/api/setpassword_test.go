package api_test

import (
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
)

func TestSetUserPassword(t *testing.T) {
	s := start(t, testserver.Options{})
	root, alice := basic("root", rootPW), basic("alice", alicePW)
	if r := s.Do("PUT", "/api/v1/users/root/password", `{"password":"taken-over-pw"}`, alice); r.Status != 403 {
		t.Errorf("a user resetting an administrator's password: %s, want 403", r)
	}
	if r := s.Do("PUT", "/api/v1/users/alice/password", `{"password":"short"}`, root); r.Status != 400 || !strings.Contains(r.Message(), "password:") {
		t.Errorf("a short password: %s", r)
	}
	if r := s.Do("PUT", "/api/v1/users/nobody/password", `{"password":"long-enough-pw"}`, root); r.Status != 404 {
		t.Errorf("an unknown user: %s", r)
	}
	s.Expect(200, "PUT", "/api/v1/users/alice/password", `{"password":"alice-new-pw-1"}`, root)
	s.Expect(401, "GET", "/api/v1/tokens", nil, alice)
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", "alice-new-pw-1"))
}
