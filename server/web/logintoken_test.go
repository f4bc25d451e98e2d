package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// TestProfileShowsLoginTokens: a docker login with a password leaves a
// login token that the profile lists as such, apart from the
// application-token count, and marks once it has expired.
func TestProfileShowsLoginTokens(t *testing.T) {
	s := start(t, testserver.Options{Configure: func(c *config.Config) { c.LoginTokenIdle, c.LoginTokenMaxAge = time.Hour, 2*time.Hour }})
	s.AddUser("alice", "alice-password", false)
	r := s.Expect(http.StatusOK, http.MethodGet, apitypes.RegistryTokenPath+"?service=registry&client_id=docker&offline_token=true", nil,
		testserver.Basic("alice", "alice-password"))
	var tok apitypes.RegistryToken
	if err := json.Unmarshal(r.Body, &tok); err != nil || !strings.HasPrefix(tok.RefreshToken, "ptk_") {
		t.Fatalf("docker login answered %s", r)
	}
	b := newBrowser(t, s.URL)
	b.signIn("alice", "alice-password")
	b.createToken("ci", "pull")
	p := b.get("/profile").text()
	for _, want := range []string{"1 of 5 tokens, and 1 login token from docker login", "docker login from 127.0.0.1", "login token", "application token", "docker-login"} {
		if !strings.Contains(p, want) {
			t.Errorf("the profile lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "expired") {
		t.Errorf("a fresh login token is shown as expired:\n%s", p)
	}
	s.Clock.Advance(90 * time.Minute)
	if p := b.get("/profile").text(); !strings.Contains(p, "docker login from 127.0.0.1 Expired login token") {
		t.Errorf("an idle login token is not shown as expired:\n%s", p)
	}
}
