package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

func requestDevice(t *testing.T, s *testserver.Server) account.DeviceCodes {
	t.Helper()
	codes, err := s.Core.Accounts.RequestDevice(account.DeviceRequest{ClientID: "docker-credential-portus", Name: "docker-credential-portus@laptop", Scope: "pull"}, "192.0.2.44")
	if err != nil {
		t.Fatal(err)
	}
	return codes
}

func TestDeviceSignedOutGoesToSignInAndBack(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("alice", "alice-password-22", false)
	codes := requestDevice(t, s)
	b := newBrowser(t, s.URL)
	path := "/device?user_code=" + url.QueryEscape(codes.UserCode)
	p := b.get(path)
	if p.Status != http.StatusSeeOther || p.Location() != "/signin?next="+url.QueryEscape(path) {
		t.Fatalf("signed out: %s (Location %q), want the sign-in page with next", p, p.Location())
	}
	signin := b.follow(p)
	posted := b.do(http.MethodPost, "/signin", url.Values{"csrf_token": {signin.csrf(t)}, "username": {"alice"}, "password": {"alice-password-22"}, "next": {path}})
	if posted.Status != http.StatusSeeOther || posted.Location() != path {
		t.Fatalf("sign-in: %s (Location %q), want back to %s", posted, posted.Location(), path)
	}
	form := b.follow(posted)
	if !strings.Contains(form.Body, `value="`+codes.UserCode+`"`) {
		t.Fatalf("the code is not prefilled:\n%s", form)
	}
	confirm := b.do(http.MethodPost, "/device", url.Values{"csrf_token": {form.csrf(t)}, "user_code": {strings.ToLower(codes.UserCode)}})
	text := confirm.text()
	for _, want := range []string{"Connect docker-credential-portus?", "docker-credential-portus@laptop", "pull", "192.0.2.44", codes.UserCode} {
		if !strings.Contains(text, want) {
			t.Errorf("the confirmation lacks %q:\n%s", want, text)
		}
	}
	done := b.do(http.MethodPost, "/device/approve", url.Values{"csrf_token": {confirm.csrf(t)}, "user_code": {codes.UserCode}})
	if done.Status != http.StatusOK || !strings.Contains(done.text(), "Approved") {
		t.Fatalf("approve: %s", done)
	}
	tok, err := s.Core.Accounts.PollDevice(codes.DeviceCode, "", "192.0.2.44")
	if err != nil || tok.Username != "alice" {
		t.Fatalf("poll after approval: %+v, %v", tok, err)
	}
}

func TestDeviceFormsNeedCSRFAndRightCode(t *testing.T) {
	s := start(t, testserver.Options{})
	s.AddUser("bob", "bob-password-333", false)
	codes := requestDevice(t, s)
	b := newBrowser(t, s.URL)
	b.signIn("bob", "bob-password-333")
	for _, action := range []string{"/device", "/device/approve", "/device/deny"} {
		p := b.do(http.MethodPost, action, url.Values{"user_code": {codes.UserCode}, "csrf_token": {"forged"}})
		if p.Status != http.StatusForbidden {
			t.Fatalf("POST %s with a forged CSRF token = %s, want 403", action, p)
		}
	}
	if _, err := s.Core.Accounts.PollDevice(codes.DeviceCode, "", "192.0.2.44"); err == nil || !strings.Contains(err.Error(), apitypes.OAuthPending) {
		t.Fatalf("after forged forms the request is not pending: %v", err)
	}
	wrong := b.submit("/device", "/device", url.Values{"user_code": {"BBBB-BBBB"}})
	if wrong.Status != http.StatusUnprocessableEntity || !strings.Contains(wrong.text(), "no waiting request has this code") {
		t.Fatalf("a wrong code: %s", wrong)
	}
	// Deny needs no code check beyond the code: a request denied is gone.
	denied := b.submit("/device", "/device/deny", url.Values{"user_code": {codes.UserCode}})
	if denied.Status != http.StatusOK || !strings.Contains(denied.text(), "Denied") {
		t.Fatalf("deny: %s", denied)
	}
	again := b.submit("/device", "/device/approve", url.Values{"user_code": {codes.UserCode}})
	if again.Status != http.StatusUnprocessableEntity || !strings.Contains(again.text(), "approved or denied already") {
		t.Fatalf("approve after deny: %s", again)
	}
}
