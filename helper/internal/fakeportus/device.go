package fakeportus

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

// The device grant, as far as the helper's login uses it:
//
//   - POST /oauth/device/code (form): 200 apitypes.DeviceAuthorization with
//     the user code "BCDF-GHJK", DeviceTiming's interval and lifetime.
//   - POST /oauth/token (form, the device_code grant): the next answer of
//     DeviceAnswers, or authorization_pending when none is left.
//
// Bodies that are not form-encoded get invalid_request, as on the real
// server.

// deviceFake is the device grant's state; Server.mu guards it.
type deviceFake struct {
	interval, expiresIn int
	uri, uriComplete    string // "" for the server's own /device page
	userCode            string // "" for BCDF-GHJK
	answers             []string
	requests            []url.Values
	polls               []time.Time
}

// DeviceTiming sets the interval and lifetime (seconds) that the next
// device codes come with; zero values mean 1 and 600.
func (s *Server) DeviceTiming(interval, expiresIn int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.device.interval, s.device.expiresIn = interval, expiresIn
}

// DeviceVerification sets the verification_uri, verification_uri_complete
// and user_code that the next device codes come with, as a hostile server
// could answer them; "" keeps the server's own page and BCDF-GHJK.
func (s *Server) DeviceVerification(uri, complete, userCode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.device.uri, s.device.uriComplete, s.device.userCode = uri, complete, userCode
}

// DeviceAnswers queues the answers of the next polls: OAuth error codes
// (apitypes.OAuth*), or "approve:USER" to issue USER a token named as the
// request asked, replacing USER's token of that name.
func (s *Server) DeviceAnswers(answers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.device.answers = append(s.device.answers, answers...)
}

// DeviceRequests returns the forms of the device code requests so far.
func (s *Server) DeviceRequests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.device.requests...)
}

// DevicePolls returns when each poll arrived.
func (s *Server) DevicePolls() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.device.polls...)
}

func deviceForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.ParseForm() != nil {
		writeJSON(w, http.StatusBadRequest, apitypes.OAuthError{Error: apitypes.OAuthInvalidRequest, Description: "send the parameters form-encoded"})
		return nil, false
	}
	return r.PostForm, true
}

func (s *Server) deviceCode(w http.ResponseWriter, r *http.Request) {
	f, ok := deviceForm(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	s.device.requests = append(s.device.requests, f)
	interval, expires := s.device.interval, s.device.expiresIn
	uri, complete, code := s.device.uri, s.device.uriComplete, s.device.userCode
	s.mu.Unlock()
	if code == "" {
		code = "BCDF-GHJK"
	}
	if interval == 0 {
		interval = 1
	}
	if expires == 0 {
		expires = 600
	}
	if uri == "" {
		uri = s.URL() + apitypes.DevicePagePath
	}
	if complete == "" {
		complete = s.URL() + apitypes.DevicePagePath + "?user_code=BCDF-GHJK"
	}
	writeJSON(w, http.StatusOK, apitypes.DeviceAuthorization{DeviceCode: "device-code-1", UserCode: code,
		VerificationURI: uri, VerificationURIComplete: complete, ExpiresIn: expires, Interval: interval})
}

func (s *Server) devicePoll(w http.ResponseWriter, r *http.Request) {
	f, ok := deviceForm(w, r)
	if !ok {
		return
	}
	if f.Get("grant_type") != apitypes.DeviceGrantType || f.Get("device_code") != "device-code-1" {
		writeJSON(w, http.StatusBadRequest, apitypes.OAuthError{Error: apitypes.OAuthInvalidGrant, Description: "unknown device_code"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.device.polls = append(s.device.polls, time.Now())
	answer := apitypes.OAuthPending
	if len(s.device.answers) > 0 {
		answer, s.device.answers = s.device.answers[0], s.device.answers[1:]
	}
	user, approve := strings.CutPrefix(answer, "approve:")
	if !approve {
		writeJSON(w, http.StatusBadRequest, apitypes.OAuthError{Error: answer, Description: "the fake says " + answer})
		return
	}
	req := s.device.requests[len(s.device.requests)-1]
	scope := req.Get("scope")
	if scope == "" {
		scope = apitypes.ScopePush
	}
	s.drop(func(t Token) bool { return t.Owner == user && t.Name == req.Get("name") })
	tok := s.issue(user, req.Get("name"), scope, apitypes.ViaDevice)
	writeJSON(w, http.StatusOK, apitypes.DeviceToken{AccessToken: tok.Plain, TokenType: "bearer", Scope: scope,
		Username: user, TokenID: tok.ID, TokenName: tok.Name})
}
