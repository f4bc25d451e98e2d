package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// wantRotated decodes a rotation's answer and checks that it is a new
// secret for the same token, in the shape of a creation.
func wantRotated(t *testing.T, r *testserver.Response, was apitypes.CreatedToken) apitypes.CreatedToken {
	t.Helper()
	var got apitypes.CreatedToken
	testserver.Decode(t, r, &got)
	if got.ID != was.ID || got.Name != was.Name || got.Scope != was.Scope || !apptoken.Valid(got.Token) || got.Token == was.Token {
		t.Fatalf("rotated id %s name %s scope %s (new secret valid %v); want id %s name %s scope %s with a new secret",
			got.ID, got.Name, got.Scope, apptoken.Valid(got.Token), was.ID, was.Name, was.Scope)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	return got
}

func TestRotateByID(t *testing.T) {
	s := start(t, testserver.Options{})
	ci := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "ci", Scope: "pull"})
	path := apitypes.TokensPath + "/" + ci.ID + apitypes.TokenRotateSuffix

	// A token cannot rotate another (nor itself) by id: that needs the password.
	other := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	s.Expect(http.StatusForbidden, "POST", path, nil, basic("alice", other.Token))
	s.Expect(http.StatusNotFound, "POST", apitypes.TokensPath+"/nope"+apitypes.TokenRotateSuffix, nil, basic("alice", alicePW))
	s.Expect(http.StatusNotFound, "POST", path, nil, basic("bob", bobPW))
	want401(t, "wrong password", s.Do("POST", path, nil, basic("alice", "wrong")))

	next := wantRotated(t, s.Expect(http.StatusCreated, "POST", path, nil, basic("alice", alicePW)), ci)
	var raw map[string]any
	testserver.Decode(t, s.Expect(http.StatusCreated, "POST", path, nil, basic("alice", alicePW)), &raw)
	if _, ok := raw["token"]; !ok || len(raw) != 6 {
		t.Errorf("rotation answer %v: want the creation's six keys", slices.Collect(func(y func(string) bool) {
			for k := range raw {
				y(k)
			}
		}))
	}
	// Within the grace (10 minutes by default) the first two secrets work.
	for _, tok := range []string{ci.Token, next.Token} {
		s.Expect(http.StatusOK, "GET", apitypes.TokensPath, nil, basic("alice", tok))
	}
	var list []apitypes.Token
	testserver.Decode(t, s.Expect(http.StatusOK, "GET", apitypes.TokensPath, nil, basic("alice", alicePW)), &list)
	if len(list) != 2 {
		t.Errorf("after rotations alice has %d tokens, want 2 (same slot)", len(list))
	}
	s.Clock.Advance(11 * time.Minute)
	want401(t, "old secret after the grace", s.Do("GET", apitypes.TokensPath, nil, basic("alice", ci.Token)))

	// The admin routes: an administrator rotates another user's token.
	admin := apitypes.TokensPath[:len("/api/v1")] + "/users/alice/tokens/" + other.ID + apitypes.TokenRotateSuffix
	wantRotated(t, s.Expect(http.StatusCreated, "POST", admin, nil, basic("root", rootPW)), other)
	s.Expect(http.StatusForbidden, "POST", admin, nil, basic("bob", bobPW))
}

func TestRotateCurrent(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1"}})
	ci := s.CreateToken("alice", alicePW, apitypes.CreateTokenRequest{Name: "ci", Scope: "push"})
	path := apitypes.CurrentTokenRotatePath

	if r := s.Expect(http.StatusBadRequest, "POST", path, nil, basic("alice", alicePW)); r.Message() == "" {
		t.Error("a password at /tokens/current/rotate: no message saying what to do")
	}
	next := wantRotated(t, s.Expect(http.StatusCreated, "POST", path, nil, basic("alice", ci.Token)), ci)
	// The replaced secret still signs in during the grace, but cannot
	// rotate again: only the live secret does.
	r := s.Expect(http.StatusConflict, "POST", path, nil, basic("alice", ci.Token))
	if r.Message() == "" {
		t.Error("409 without a message")
	}
	third := wantRotated(t, s.Expect(http.StatusCreated, "POST", path, nil, bearer(next.Token)), next)
	live := wantRotated(t, s.Expect(http.StatusCreated, "POST", path, nil, pauth("alice", third.Token)), third)

	s.Clock.Advance(11 * time.Minute)
	want401(t, "a replaced secret after the grace", s.Do("POST", path, nil, fromIP("203.0.113.7"), basic("alice", ci.Token)))
	var page struct{ Activities []apitypes.Activity }
	testserver.Decode(t, s.Expect(http.StatusOK, "GET", "/api/v1/activities", nil, basic("alice", alicePW)), &page)
	found := false
	for _, a := range page.Activities {
		found = found || (a.Action == account.ActionTokenReuse && a.TokenName == "ci" && a.ClientIP == "203.0.113.7")
	}
	if !found {
		t.Errorf("no %s entry from 203.0.113.7 in alice's activity: %+v", account.ActionTokenReuse, page.Activities)
	}
	// The live secret is untouched by the reuse.
	s.Expect(http.StatusOK, "GET", apitypes.TokensPath, nil, basic("alice", live.Token))
}
