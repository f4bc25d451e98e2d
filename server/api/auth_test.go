package api_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

func TestHealthz(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	r := s.Expect(200, "GET", "/healthz", nil)
	if !strings.Contains(string(r.Body), "ok") {
		t.Errorf("healthz body %s", r.Body)
	}
}

// TestAuthFailuresLookAlike: every credential failure gets the same 401,
// so a client cannot learn which users exist or which are disabled.
func TestAuthFailuresLookAlike(t *testing.T) {
	s := start(t, testserver.Options{})
	aliceTok := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	bobTok := s.CreateToken("bob", bobPW, tokenReq("laptop"))
	forged, err := apptoken.New()
	if err != nil {
		t.Fatal(err)
	}
	typo := []byte(aliceTok.Token)
	typo[10] ^= 1 // still base62, checksum now wrong
	s.AddUser("carol", "carol-password", false)
	carolTok := s.CreateToken("carol", "carol-password", tokenReq("laptop"))
	s.Expect(200, "PATCH", "/api/v1/users/carol", `{"disabled":true}`, basic("root", rootPW))

	cases := []struct {
		name string
		opt  testserver.Opt
	}{
		{"no credentials", func(*http.Request) {}},
		{"unknown user", basic("nobody", alicePW)},
		{"unknown user with a token", basic("nobody", aliceTok.Token)},
		{"wrong password", basic("alice", bobPW)},
		{"empty password", basic("alice", "")},
		{"bad token", basic("alice", forged)},
		{"token with a typo", basic("alice", string(typo))},
		{"token-shaped garbage", basic("alice", "ptk_"+strings.Repeat("!", 38))},
		{"another user's token", basic("alice", bobTok.Token)},
		{"disabled user, password", basic("carol", "carol-password")},
		{"disabled user, token", basic("carol", carolTok.Token)},
		{"disabled user, Portus-Auth", pauth("carol", carolTok.Token)},
		{"Portus-Auth with a bad token", pauth("alice", forged)},
		{"Portus-Auth without a colon", func(r *http.Request) { r.Header.Set("Portus-Auth", aliceTok.Token) }},
		{"Bearer with a bad token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+forged) }},
		{"Bearer with a password", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+alicePW) }},
		{"Bearer, disabled user", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+carolTok.Token) }},
	}
	for _, c := range cases {
		s.CoolDown() // each case on its own, never throttled
		want401(t, c.name, s.Do("GET", "/api/v1/tokens", nil, c.opt))
	}
	// The right credentials still work.
	s.CoolDown()
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", aliceTok.Token))
	s.Expect(200, "GET", "/api/v1/tokens", nil, pauth("alice", aliceTok.Token))
}

func TestThrottling(t *testing.T) {
	// Trust the loopback proxy so that the test can pick client IPs.
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1", "::1"}})
	tok := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	const home = "198.51.100.7"
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", alicePW), fromIP(home))

	// An attacker guesses alice's password from many IPs, waiting out
	// each delay.
	for i := 0; i < 10; i++ {
		r := s.Do("GET", "/api/v1/tokens", nil, basic("alice", fmt.Sprintf("guess-%d-password", i)), fromIP(fmt.Sprintf("203.0.113.%d", i)))
		want401(t, fmt.Sprintf("guess %d", i), r)
		if i == 2 {
			// After 3 failures the next attempt must wait.
			r := s.Do("GET", "/api/v1/tokens", nil, basic("alice", alicePW), fromIP("203.0.113.100"))
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" {
				t.Errorf("4th attempt right after the 3rd failure: %s Retry-After %q, want 429 and 1", r, r.Header.Get("Retry-After"))
			}
		}
		s.Clock.Advance(2 * time.Minute)
	}
	// Locked for 10 minutes (2 of which have passed), even with the right
	// password from a new IP; the password is not even checked.
	r := s.Do("GET", "/api/v1/tokens", nil, basic("alice", alicePW), fromIP("203.0.113.200"))
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("after 10 failures: %s, want 429", r)
	}
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra != 480 {
		t.Errorf("Retry-After %q, want 480", r.Header.Get("Retry-After"))
	}
	if !strings.Contains(r.Message(), "too many failed sign-in attempts") {
		t.Errorf("429 message %q", r.Message())
	}
	// bob is not affected.
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("bob", bobPW), fromIP("203.0.113.200"))

	// Recovery: the clock moves past the lock.
	s.Clock.Advance(8*time.Minute + time.Second)
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", alicePW), fromIP("203.0.113.201"))

	// The lock does not keep alice out: lock her again, then her token
	// works from anywhere and her password from home.
	s.CoolDown()
	for i := 0; i < 10; i++ {
		s.Do("GET", "/api/v1/tokens", nil, basic("alice", "guess-password"), fromIP(fmt.Sprintf("203.0.113.%d", 50+i)))
		s.Clock.Advance(2 * time.Minute)
	}
	if r := s.Do("GET", "/api/v1/tokens", nil, basic("alice", alicePW), fromIP("203.0.113.99")); r.Status != 429 {
		t.Fatalf("not locked again: %s", r)
	}
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("alice", alicePW), fromIP(home))
	s.Expect(200, "GET", "/api/v1/tokens", nil, pauth("alice", tok.Token), fromIP("192.0.2.77"))
}

func TestThrottlingPerIP(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1", "::1"}})
	tok := s.CreateToken("bob", bobPW, tokenReq("laptop"))

	// Password spraying: 5 failures across usernames from one IP slow
	// down the next password from it, whoever's it is.
	const sprayer = "203.0.113.66"
	for i := 0; i < 5; i++ {
		want401(t, "spray", s.Do("GET", "/api/v1/tokens", nil, basic(fmt.Sprintf("user%d", i), "Spring2030!"), fromIP(sprayer)))
	}
	r := s.Do("GET", "/api/v1/tokens", nil, basic("bob", bobPW), fromIP(sprayer))
	if r.Status != 429 || r.Header.Get("Retry-After") != "1" {
		t.Errorf("6th password from the IP: %s Retry-After %q, want 429 and 1", r, r.Header.Get("Retry-After"))
	}
	// Tokens from that IP, and passwords from elsewhere, go on.
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("bob", tok.Token), fromIP(sprayer))
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("bob", bobPW), fromIP("198.51.100.1"))
	s.Clock.Advance(time.Second)
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("bob", bobPW), fromIP(sprayer))

	// Token guessing: 5 bad tokens from one IP slow down tokens from it.
	const guesser = "203.0.113.67"
	for i := 0; i < 5; i++ {
		forged, _ := apptoken.New()
		want401(t, "bad token", s.Do("GET", "/api/v1/tokens", nil, pauth("bob", forged), fromIP(guesser)))
	}
	r = s.Do("GET", "/api/v1/tokens", nil, basic("bob", tok.Token), fromIP(guesser))
	if r.Status != 429 || r.Header.Get("Retry-After") != "1" {
		t.Errorf("6th token from the IP: %s Retry-After %q, want 429 and 1", r, r.Header.Get("Retry-After"))
	}
	s.Clock.Advance(time.Second)
	s.Expect(200, "GET", "/api/v1/tokens", nil, basic("bob", tok.Token), fromIP(guesser))
}

func TestBadRequests(t *testing.T) {
	s := start(t, testserver.Options{})
	alice, root := basic("alice", alicePW), basic("root", rootPW)
	past := s.Clock.Now().Add(-time.Minute).Format(time.RFC3339)
	for _, c := range []struct {
		name, method, path, body string
		auth                     testserver.Opt
		status                   int
		want                     string
	}{
		{"bad scope", "POST", "/api/v1/tokens", `{"name":"x","scope":"admin"}`, alice, 400, "scope:"},
		{"scope in capitals", "POST", "/api/v1/tokens", `{"name":"x","scope":"PUSH"}`, alice, 400, "scope:"},
		{"unknown field", "POST", "/api/v1/tokens", `{"name":"x","colour":"red"}`, alice, 400, `"colour"`},
		{"malformed JSON", "POST", "/api/v1/tokens", `{"name":"x",`, alice, 400, "JSON"},
		{"not an object", "POST", "/api/v1/tokens", `["x"]`, alice, 400, ""},
		{"two objects", "POST", "/api/v1/tokens", `{"name":"x"} {"name":"y"}`, alice, 400, ""},
		{"empty body", "POST", "/api/v1/tokens", ``, alice, 400, "JSON body"},
		{"expires_at in the past", "POST", "/api/v1/tokens", `{"name":"x","expires_at":"` + past + `"}`, alice, 400, "expires_at:"},
		{"expires_at not a time", "POST", "/api/v1/tokens", `{"name":"x","expires_at":"tomorrow"}`, alice, 400, "expires_at:"},
		{"name too long", "POST", "/api/v1/tokens", `{"name":"` + strings.Repeat("n", 65) + `"}`, alice, 400, "name:"},
		{"name missing", "POST", "/api/v1/tokens", `{"scope":"pull"}`, alice, 400, "name:"},
		{"name with a newline", "POST", "/api/v1/tokens", `{"name":"a\nb"}`, alice, 400, "name:"},
		{"name not a string", "POST", "/api/v1/tokens", `{"name":5}`, alice, 400, "name:"},
		{"replace not a bool", "POST", "/api/v1/tokens", `{"name":"x","replace":"yes"}`, alice, 400, "replace:"},
		{"body over 64 KiB", "POST", "/api/v1/tokens", `{"name":"` + strings.Repeat("n", 70<<10) + `"}`, alice, 413, "larger than"},
		{"padding over 64 KiB", "POST", "/api/v1/tokens", `{"name":"x"}` + strings.Repeat(" ", 65<<10), alice, 413, "larger than"},
		{"bad username", "POST", "/api/v1/users", `{"name":"Mallory","password":"long-enough-pw"}`, root, 400, "name:"},
		{"short password", "POST", "/api/v1/users", `{"name":"mallory","password":"short"}`, root, 400, "password:"},
		{"existing user", "POST", "/api/v1/users", `{"name":"alice","password":"long-enough-pw"}`, root, 409, "already exists"},
		{"unknown PATCH field", "PATCH", "/api/v1/users/alice", `{"password":"new-password-1"}`, root, 400, `"password"`},
		{"PATCH unknown user", "PATCH", "/api/v1/users/nobody", `{"disabled":true}`, root, 404, ""},
		{"bad before", "GET", "/api/v1/activities?before=x", ``, alice, 400, "before:"},
		{"bad limit", "GET", "/api/v1/activities?limit=0", ``, alice, 400, "limit:"},
		{"limit too big", "GET", "/api/v1/activities?limit=501", ``, alice, 400, "limit:"},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := s.Do(c.method, c.path, body, c.auth)
		if r.Status != c.status || !strings.Contains(r.Message(), c.want) {
			t.Errorf("%s: %.200s, want %d with a message containing %q", c.name, r, c.status, c.want)
		}
	}
	var list []apitypes.Token
	testserver.Decode(t, s.Expect(200, "GET", "/api/v1/tokens", nil, alice), &list)
	if len(list) != 0 {
		t.Errorf("bad requests created tokens: %+v", list)
	}
	s.Expect(404, "GET", "/api/v1/users/mallory", nil, root)
}

// TestTrailingDataRefused: decode promises that data after the JSON object
// is refused; a stray closing bracket is data too.
func TestTrailingDataRefused(t *testing.T) {
	s := start(t, testserver.Options{})
	for _, body := range []string{`{"name":"a"}}`, `{"name":"b"}]`, `{"name":"c"} x`, `{"name":"d"} {}`} {
		r := s.Do("POST", "/api/v1/tokens", body, basic("alice", alicePW))
		if r.Status != 400 || !strings.Contains(r.Message(), "unexpected data after the JSON object") {
			t.Errorf("%q: %s, want 400", body, r)
		}
	}
	// Trailing white space is fine.
	s.Expect(201, "POST", "/api/v1/tokens", "{\"name\":\"e\"}\n\t ", basic("alice", alicePW))
}

// A cross-site HTML form can post text/plain that parses as JSON; the API
// takes only application/json, so such a form cannot create an admin.
func TestCrossSiteFormBodiesRefused(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	s.AddUser("root", "root-password", true)
	body := `{"name":"evil","admin":true,"password":"=attacker-password"}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/users", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.SetBasicAuth("root", "root-password")
		resp, err := s.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %d, want 415", ct, resp.StatusCode)
		}
	}
	s.Expect(http.StatusNotFound, http.MethodGet, "/api/v1/users/evil", nil, testserver.Basic("root", "root-password"))
}
