package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// formEncoded marks a body as application/x-www-form-urlencoded, as RFC
// 8628 requires of both endpoints.
func formEncoded(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }

func deviceCode(t *testing.T, s *testserver.Server, form url.Values) apitypes.DeviceAuthorization {
	t.Helper()
	r := s.Expect(http.StatusOK, http.MethodPost, apitypes.DeviceCodePath, form.Encode(), formEncoded)
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	var a apitypes.DeviceAuthorization
	testserver.Decode(t, r, &a)
	return a
}

func poll(s *testserver.Server, device string) *testserver.Response {
	return s.Do(http.MethodPost, apitypes.OAuthTokenPath, url.Values{
		"grant_type": {apitypes.DeviceGrantType}, "device_code": {device}, "client_id": {"docker-credential-portus"},
	}.Encode(), formEncoded)
}

// wantOAuthError checks the status and the exact error JSON.
func wantOAuthError(t *testing.T, r *testserver.Response, status int, code, description string) {
	t.Helper()
	want, _ := json.Marshal(apitypes.OAuthError{Error: code, Description: description})
	if r.Status != status || strings.TrimSpace(string(r.Body)) != string(want) {
		t.Fatalf("got %s, want %d %s", r, status, want)
	}
}

func TestDeviceCodeEndpoint(t *testing.T) {
	s := start(t, testserver.Options{})
	a := deviceCode(t, s, url.Values{"client_id": {"docker-credential-portus"}, "scope": {"pull"}, "name": {"docker-credential-portus@box"}})
	if a.VerificationURI != s.Config.URL+"/device" || a.VerificationURIComplete != a.VerificationURI+"?user_code="+a.UserCode ||
		a.ExpiresIn != 600 || a.Interval != 5 || len(a.UserCode) != 9 || a.DeviceCode == "" {
		t.Fatalf("answer %+v", a)
	}
	for _, tc := range []struct {
		body, contentType string
		code, description string
	}{
		{`{"client_id":"x"}`, "application/json", apitypes.OAuthInvalidRequest, "send the parameters form-encoded, with Content-Type: application/x-www-form-urlencoded (RFC 8628)"},
		{"", "application/x-www-form-urlencoded", apitypes.OAuthInvalidRequest, "client_id: must be 1 to 64 printable characters without spaces, such as docker-credential-portus"},
		{"client_id=x&scope=admin", "application/x-www-form-urlencoded", apitypes.OAuthInvalidScope, `scope: must be "pull", "push" or "delete"`},
	} {
		r := s.Do(http.MethodPost, apitypes.DeviceCodePath, tc.body, func(r *http.Request) { r.Header.Set("Content-Type", tc.contentType) })
		wantOAuthError(t, r, http.StatusBadRequest, tc.code, tc.description)
	}
}

func TestDeviceTokenEndpoint(t *testing.T) {
	s := start(t, testserver.Options{})
	a := deviceCode(t, s, url.Values{"client_id": {"docker-credential-portus"}, "name": {"docker-credential-portus@box"}})
	wantOAuthError(t, poll(s, a.DeviceCode), http.StatusBadRequest, apitypes.OAuthPending, "waiting for the user to approve the request at /device")
	other := s.Do(http.MethodPost, apitypes.OAuthTokenPath, url.Values{
		"grant_type": {apitypes.DeviceGrantType}, "device_code": {a.DeviceCode}, "client_id": {"someone-else"},
	}.Encode(), formEncoded)
	wantOAuthError(t, other, http.StatusBadRequest, apitypes.OAuthInvalidGrant, "this device_code was issued to another client_id")
	wantOAuthError(t, poll(s, a.DeviceCode), http.StatusBadRequest, apitypes.OAuthSlowDown, "polling too fast; poll every 10 seconds")

	if _, err := s.Core.Accounts.DecideDevice(account.Actor{Name: "alice", IP: "192.0.2.1"}, strings.ToLower(a.UserCode), true); err != nil {
		t.Fatal(err)
	}
	r := poll(s, a.DeviceCode)
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("poll after approval: %s", r)
	}
	var tok apitypes.DeviceToken
	testserver.Decode(t, r, &tok)
	if !apptoken.Valid(tok.AccessToken) || tok.TokenType != "bearer" || tok.Username != "alice" || tok.TokenName != "docker-credential-portus@box" || tok.Scope != "push" {
		t.Fatalf("token %+v", tok)
	}
	// The token works as alice's and lists as made by the device grant.
	var list []apitypes.Token
	testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, testserver.Basic("alice", tok.AccessToken)), &list)
	if len(list) != 1 || list[0].CreatedVia != apitypes.ViaDevice {
		t.Fatalf("alice's tokens: %+v", list)
	}
	wantOAuthError(t, poll(s, a.DeviceCode), http.StatusBadRequest, apitypes.OAuthInvalidGrant,
		"unknown device_code: it was never issued, or has been used already; start the login again")
}

func TestDeviceTokenDeniedExpiredMalformed(t *testing.T) {
	s := start(t, testserver.Options{})
	denied := deviceCode(t, s, url.Values{"client_id": {"docker-credential-portus"}})
	if _, err := s.Core.Accounts.DecideDevice(account.Actor{Name: "bob"}, denied.UserCode, false); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, poll(s, denied.DeviceCode), http.StatusBadRequest, apitypes.OAuthAccessDenied, "bob denied the request in the browser")

	expired := deviceCode(t, s, url.Values{"client_id": {"docker-credential-portus"}})
	s.Clock.Advance(10*time.Minute + time.Second)
	wantOAuthError(t, poll(s, expired.DeviceCode), http.StatusBadRequest, apitypes.OAuthExpiredToken, "the code expired before it was approved; start the login again")

	for _, tc := range []struct {
		body, code, description string
	}{
		{"device_code=x", apitypes.OAuthInvalidRequest, "grant_type is missing; send " + apitypes.DeviceGrantType},
		{"grant_type=password&username=alice&password=x", apitypes.OAuthUnsupportedType, "only grant_type=" + apitypes.DeviceGrantType + " is served here; docker's token requests go to /v2/token"},
		{"grant_type=" + url.QueryEscape(apitypes.DeviceGrantType), apitypes.OAuthInvalidRequest, "device_code is missing"},
	} {
		wantOAuthError(t, s.Do(http.MethodPost, apitypes.OAuthTokenPath, tc.body, formEncoded), http.StatusBadRequest, tc.code, tc.description)
	}
	// A JSON body is not form-encoded: refused, as RFC 8628 requires.
	r := s.Do(http.MethodPost, apitypes.OAuthTokenPath, map[string]string{"grant_type": apitypes.DeviceGrantType, "device_code": "x"})
	wantOAuthError(t, r, http.StatusBadRequest, apitypes.OAuthInvalidRequest, "send the parameters form-encoded, with Content-Type: application/x-www-form-urlencoded (RFC 8628)")
}

func TestDeviceCodeRateLimit(t *testing.T) {
	s := start(t, testserver.Options{})
	var r *testserver.Response
	for range 11 {
		r = s.Do(http.MethodPost, apitypes.DeviceCodePath, "client_id=c", formEncoded)
	}
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the 11th request from one address: %s, want 429 with Retry-After", r)
	}
	var e apitypes.OAuthError
	testserver.Decode(t, r, &e)
	if e.Error != apitypes.OAuthSlowDown {
		t.Fatalf("error %+v, want slow_down", e)
	}
}

// Past the per-address poll limit the token endpoint still answers as RFC
// 8628 section 3.5 says: 400 slow_down, with Retry-After only as a hint,
// since OAuth clients take a 429 for a transport failure.
func TestDeviceTokenAddressLimitIs400SlowDown(t *testing.T) {
	s := start(t, testserver.Options{})
	for i := range 30 {
		wantOAuthError(t, poll(s, "no-such-code-"+strconv.Itoa(i)), http.StatusBadRequest, apitypes.OAuthInvalidGrant,
			"unknown device_code: it was never issued, or has been used already; start the login again")
	}
	r := poll(s, "no-such-code")
	wantOAuthError(t, r, http.StatusBadRequest, apitypes.OAuthSlowDown, "too many polls from this address; try again in 1 seconds")
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After %q, want 1", got)
	}
}
