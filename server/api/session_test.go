package api_test

import (
	"net/http"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// A signed-in browser may use the API with its session cookie, but only
// with the session's CSRF token in a header a cross-site page cannot set.
func TestWebSessionOnTheAPI(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	u, err := s.Core.Accounts.UserLookup("alice")
	if err != nil {
		t.Fatal(err)
	}
	secret, sess, err := s.Core.Accounts.Sessions(account.SessionLimits{}).Start(account.Principal{User: u}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: account.SessionCookie, Value: secret}) }
	csrf := func(v string) testserver.Opt { return func(r *http.Request) { r.Header.Set(account.CSRFHeader, v) } }
	body := apitypes.CreateTokenRequest{Name: "from-the-browser"}

	s.Expect(http.StatusForbidden, http.MethodPost, apitypes.TokensPath, body, cookie)
	s.Expect(http.StatusForbidden, http.MethodPost, apitypes.TokensPath, body, cookie, csrf("not-the-token"))
	var created apitypes.CreatedToken
	testserver.Decode(t, s.Expect(http.StatusCreated, http.MethodPost, apitypes.TokensPath, body, cookie, csrf(sess.CSRFToken)), &created)
	if created.Token == "" {
		t.Fatal("no token in the answer")
	}
	s.Expect(http.StatusUnauthorized, http.MethodPost, apitypes.TokensPath, body, csrf(sess.CSRFToken))
	s.Expect(http.StatusUnauthorized, http.MethodGet, apitypes.TokensPath, nil,
		func(r *http.Request) { r.AddCookie(&http.Cookie{Name: account.SessionCookie, Value: "forged"}) }, csrf(sess.CSRFToken))
}
