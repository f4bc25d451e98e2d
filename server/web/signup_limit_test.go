package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/internal/testserver"
)

// signUpFrom posts the sign-up form from the client address ip, with a new
// browser (a signed-in one would need its session's CSRF token).
func signUpFrom(t *testing.T, base, ip, name, password string) *page {
	t.Helper()
	b := newBrowser(t, base)
	form := b.get("/signup", testserver.FromIP(ip))
	return b.do(http.MethodPost, "/signup", url.Values{"csrf_token": {form.csrf(t)},
		"username": {name}, "password": {password}, "password_confirmation": {password}}, testserver.FromIP(ip))
}

// TestSignUpFloodIsThrottled reproduces the review's 200 sign-ups from one
// address: at most account.SignupBurst get through, taken and malformed
// names count too, and the rest get a 429 form that says when to come back.
// Someone else's sign-in is not slowed, from another address or this one.
func TestSignUpFloodIsThrottled(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1", "::1"}})
	s.AddUser("alice", "alice-password", false)
	const flood = "203.0.113.5"
	created, throttled := 0, 0
	for i := 0; i < 200; i++ {
		name := fmt.Sprintf("flood%03d", i)
		if i%3 == 1 {
			name = "alice"
		}
		p := signUpFrom(t, s.URL, flood, name, "flood-password")
		switch p.Status {
		case http.StatusSeeOther:
			created++
		case http.StatusTooManyRequests:
			throttled++
			if ra := p.Header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Fatalf("429 without Retry-After: %v", p.Header)
			}
			if !strings.Contains(p.text(), "Too many sign-ups from your address. Wait 12 minutes, then try again.") {
				t.Fatalf("the 429 page does not say when to try again:\n%s", p)
			}
		}
	}
	if created > account.SignupBurst || throttled != 200-account.SignupBurst {
		t.Fatalf("200 sign-ups from one address: %d created, %d throttled; want at most %d through", created, throttled, account.SignupBurst)
	}
	for _, ip := range []string{"198.51.100.7", flood} {
		b := newBrowser(t, s.URL)
		form := b.get("/signin", testserver.FromIP(ip))
		p := b.do(http.MethodPost, "/signin", url.Values{"csrf_token": {form.csrf(t)}, "username": {"alice"}, "password": {"alice-password"}}, testserver.FromIP(ip))
		if p.Status != http.StatusSeeOther {
			t.Errorf("alice's sign-in from %s after the sign-up flood = %s", ip, p)
		}
	}
	s.Clock.Advance(account.SignupEvery)
	if p := signUpFrom(t, s.URL, flood, "patient", "patient-password"); p.Status != http.StatusSeeOther {
		t.Errorf("a sign-up %s later = %s", account.SignupEvery, p)
	}
}

// TestSignUpDoesNotTellTakenNames: an active, a disabled and a reserved
// name get the same answer, status and body but for the echoed name; and
// with a too-short password a taken name answers as a free one does.
func TestSignUpDoesNotTellTakenNames(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1", "::1"}})
	s.AddUser("alice", "alice-password", true)
	s.AddUser("dave", "dave-password", false)
	disabled := true
	if _, err := s.Core.Accounts.UpdateUser(account.Actor{Name: "test"}, "dave", account.UserChange{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	answer := func(i int, name, password string) (int, string) {
		p := signUpFrom(t, s.URL, fmt.Sprintf("192.0.2.%d", i), name, password)
		body := csrfPattern.ReplaceAllString(p.Body, "CSRF")
		return p.Status, strings.ReplaceAll(body, `value="`+name+`"`, `value="NAME"`)
	}
	compare := func(what string, names []string, password string, wantStatus int) {
		t.Helper()
		status0, body0 := answer(0, names[0], password)
		if status0 != wantStatus {
			t.Fatalf("%s: sign-up of %s = %d, want %d:\n%s", what, names[0], status0, wantStatus, body0)
		}
		for i, name := range names[1:] {
			if status, body := answer(i+1, name, password); status != status0 || body != body0 {
				t.Errorf("%s: sign-up of %s (%d) differs from %s (%d):\n%s\n---\n%s", what, name, status, names[0], status0, body, body0)
			}
		}
	}
	compare("refused name", []string{account.LocalAdminName, "alice", "dave"}, "other-password", http.StatusConflict)
	compare("short password", []string{"fresh", "alice", "dave", account.LocalAdminName}, "short", http.StatusBadRequest)
	if p := signUpFrom(t, s.URL, "192.0.2.9", "alice", "other-password"); strings.Contains(p.text(), "already exists") ||
		!strings.Contains(p.text(), "That name cannot be used. Choose another name.") {
		t.Errorf("the sign-up page for a taken name:\n%s", p)
	}
}
