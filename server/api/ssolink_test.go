package api_test

import (
	"net/http"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// An administrator links a local account for single sign-on; an account
// that single sign-on made needs no link, and only administrators with
// their password may link.
func TestLinkSSO(t *testing.T) {
	s := start(t, testserver.Options{})
	root := basic("root", rootPW)
	if _, err := s.Core.Accounts.SignInSSO(account.SSOIdentity{Subject: "sub-carol", Username: "carol",
		Email: "carol@example.org", DisplayName: "Carol"}, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	var carol apitypes.User
	testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, "/api/v1/users/carol", nil, root), &carol)
	if carol.Source != "oidc" || carol.Email != "carol@example.org" || carol.DisplayName != "Carol" {
		t.Fatalf("the SSO account reads %+v", carol)
	}

	var alice apitypes.User
	testserver.Decode(t, s.Expect(http.StatusOK, http.MethodPost, "/api/v1/users/alice/sso-link", nil, root), &alice)
	if alice.Name != "alice" || alice.Source != "" {
		t.Errorf("linked alice reads %+v; want the local account unchanged", alice)
	}
	if r := s.Expect(http.StatusConflict, http.MethodPost, "/api/v1/users/carol/sso-link", nil, root); r.Message() == "" {
		t.Error("409 without a message")
	}
	s.Expect(http.StatusNotFound, http.MethodPost, "/api/v1/users/nobody/sso-link", nil, root)
	// A link naming the subject lets only that person in.
	s.Expect(http.StatusOK, http.MethodPost, "/api/v1/users/bob/sso-link", apitypes.LinkSSORequest{Subject: "sub-bob"}, root)
	if _, err := s.Core.Accounts.SignInSSO(account.SSOIdentity{Subject: "sub-mallory", Username: "bob"}, "10.0.0.9"); err == nil {
		t.Error("another subject signed in to bob after a link naming sub-bob")
	}
	if _, err := s.Core.Accounts.SignInSSO(account.SSOIdentity{Subject: "sub-bob", Username: "bob"}, "10.0.0.1"); err != nil {
		t.Errorf("sub-bob after the link: %v", err)
	}
	s.Expect(http.StatusBadRequest, http.MethodPost, "/api/v1/users/bob/sso-link", map[string]any{"subject": 7}, root)
	s.Expect(http.StatusForbidden, http.MethodPost, "/api/v1/users/alice/sso-link", nil, basic("bob", bobPW))
	tok := s.CreateToken("root", rootPW, tokenReq("ci"))
	s.Expect(http.StatusForbidden, http.MethodPost, "/api/v1/users/alice/sso-link", nil, basic("root", tok.Token))
	want401(t, "wrong password", s.Do(http.MethodPost, "/api/v1/users/alice/sso-link", nil, basic("root", "wrong")))

	var page apitypes.ActivityPage
	testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, "/api/v1/activities?user=alice", nil, root), &page)
	found := false
	for _, a := range page.Activities {
		found = found || (a.Action == "user.sso.link" && a.Actor == "root" && a.Subject == "alice")
	}
	if !found {
		t.Errorf("no user.sso.link entry by root for alice: %+v", page.Activities)
	}
}
