package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/model"
)

// sessionlessStore is the real store that cannot create sessions, as
// bbolt cannot on a full disk.
type sessionlessStore struct{ model.Store }

func (sessionlessStore) CreateSession(model.Session) error {
	return model.Unavailable("creating session", &os.PathError{Op: "write", Path: "portus.db", Err: syscall.ENOSPC})
}

// TestSignInStoreFailureAnswersOnce: when the session cannot be stored,
// the sign-in answers with one 503 page that says why, and then nothing
// more (before, the handler went on to redirect to /profile over the
// page it had sent).
func TestSignInStoreFailureAnswersOnce(t *testing.T) {
	s := start(t, testserver.Options{WrapStore: func(st model.Store) model.Store { return sessionlessStore{st} }})
	s.AddUser("alice", "alice-password", false)
	b := newBrowser(t, s.URL)
	form := b.get("/signin")

	// In-process, so that the recorder also sees what the handler does
	// after the response went out, which the wire does not carry.
	v := url.Values{"username": {"alice"}, "password": {"alice-password"}, "csrf_token": {form.csrf(t)}}
	req := httptest.NewRequest(http.MethodPost, s.URL+"/signin", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	base, _ := url.Parse(s.URL)
	for _, ck := range b.client.Jar.Cookies(base) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	s.HTTP.Config.Handler.ServeHTTP(rec, req)

	sent := rec.Result()
	p := &page{Status: sent.StatusCode, Header: sent.Header, Body: rec.Body.String()}
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.text(), "cannot use its database right now") {
		t.Errorf("sign-in while sessions cannot be stored = %s, want the 503 page", p)
	}
	if n := strings.Count(p.Body, "<!doctype html>"); n != 1 {
		t.Errorf("the answer holds %d pages, want 1:\n%s", n, p)
	}
	if !reflect.DeepEqual(rec.Header(), sent.Header) {
		t.Errorf("headers changed after the answer was sent (a second answer): sent %v, then %v", sent.Header, rec.Header())
	}
	if ck := cookieIn(sent, "portus_session"); ck != nil {
		t.Errorf("a session cookie was set although no session was stored: %v", ck)
	}
}

// cookieIn returns the cookie name that r sets, or nil.
func cookieIn(r *http.Response, name string) *http.Cookie {
	for _, ck := range r.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}
