package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// A replaced secret still in its grace finishes jobs but manages nothing:
// it cannot revoke the token (by /tokens/current or by id) nor rotate it,
// so whoever holds only an old copy cannot kill the live secret.
func TestReplacedSecretCannotManageTheToken(t *testing.T) {
	s := start(t, testserver.Options{})
	ci := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "ci", Scope: "pull"})
	live := wantRotated(t, s.Expect(http.StatusCreated, http.MethodPost, apitypes.CurrentTokenRotatePath, nil, basic("alice", ci.Token)), ci)

	// Within the grace the old secret signs in.
	s.Expect(http.StatusOK, http.MethodGet, "/v2/token?service=registry", nil, basic("alice", ci.Token))
	s.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, basic("alice", ci.Token))
	for _, c := range []struct{ method, path string }{
		{http.MethodDelete, apitypes.TokensPath + "/current"},
		{http.MethodDelete, apitypes.TokensPath + "/" + ci.ID},
		{http.MethodPost, apitypes.CurrentTokenRotatePath},
	} {
		for _, auth := range []testserver.Opt{basic("alice", ci.Token), bearer(ci.Token)} {
			r := s.Expect(http.StatusConflict, c.method, c.path, nil, auth)
			if !strings.Contains(r.Message(), "newest secret") {
				t.Errorf("%s %s with a replaced secret: message %q, want it to say to use the newest secret", c.method, c.path, r.Message())
			}
		}
	}
	// The live secret is untouched and still manages its token.
	s.Expect(http.StatusOK, http.MethodGet, "/v2/token?service=registry", nil, basic("alice", live.Token))
	s.Expect(http.StatusNoContent, http.MethodDelete, apitypes.TokensPath+"/current", nil, basic("alice", live.Token))
	want401(t, "the old secret once the token is revoked", s.Do(http.MethodGet, apitypes.TokensPath, nil, basic("alice", ci.Token)))
}
