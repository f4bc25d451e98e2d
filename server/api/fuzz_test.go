package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/api"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
)

// FuzzCredentials feeds arbitrary Authorization and Portus-Auth headers to
// the credential parser: it never panics, a result always has a name and a
// secret, and Portus-Auth is always token-only.
func FuzzCredentials(f *testing.F) {
	for _, s := range []string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:secret")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte(":")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("alice")),
		"Basic !!!", "Bearer x", "basic YTpi", "",
	} {
		f.Add(s, "")
	}
	f.Add("", "alice:ptk_0000")
	f.Add("", ":")
	f.Add("", "alice")
	f.Add("Basic YTpi", "bob:x:y")
	f.Fuzz(func(t *testing.T, authorization, portusAuth string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{authorization}
		if portusAuth != "" {
			r.Header[apitypes.AuthHeader] = []string{portusAuth}
		}
		name, secret, ok, tokenOnly := api.Credentials(r)
		if ok && (name == "" || secret == "") {
			t.Fatalf("ok with an empty name or secret")
		}
		if portusAuth != "" && !tokenOnly {
			t.Fatalf("Portus-Auth credentials must be token-only")
		}
		if ok && portusAuth != "" && name+":"+secret != portusAuth {
			t.Fatalf("Portus-Auth split wrongly")
		}
	})
}

// FuzzCreateTokenBody sends arbitrary bodies to POST /api/v1/tokens: the
// server answers 201, 400, 409, 413 or 422, never 500, and a 400 names
// what is wrong.
func FuzzCreateTokenBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"ci"}`, `{"name":"ci","scope":"pull"}`, `{"name":"x","expires_at":"2030-01-01T00:00:00Z"}`,
		`{"name":"x","expires_at":"yesterday"}`, `{"name":1}`, `{"name":"x","replace":true}`, `{}`, `[]`, `null`,
		`{"name":"x"}}`, `{"name":"\u0000"}`, `{"unknown":1}`, strings.Repeat("[", 1000), "",
	} {
		f.Add([]byte(s))
	}
	s := testserver.Start(f, testserver.Options{MaxTokens: 1000, Log: discard{}})
	s.AddUser("alice", "alice-password", false)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := s.Request(http.MethodPost, apitypes.TokensPath, body, testserver.Basic("alice", "alice-password"))
		if err != nil {
			t.Fatal(err)
		}
		switch r.Status {
		case http.StatusCreated, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		case http.StatusBadRequest:
			if r.Message() == "" {
				t.Fatalf("400 without a message for %q", body)
			}
		default:
			t.Fatalf("POST %q: %s", body, r)
		}
		if r.Status == http.StatusCreated && bytes.Contains(body, []byte(`"replace"`)) && !bytes.Contains(r.Body, []byte("ptk_")) {
			t.Fatalf("201 without a token")
		}
	})
}

// FuzzCreateUserBody sends arbitrary bodies to POST /api/v1/users as an
// administrator: the server answers 201, 400 (with a message), 409 or 413,
// never 500; a 201 made exactly the user the body asked for, who can then
// sign in with that password, and no answer echoes the password.
func FuzzCreateUserBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"carol","password":"carol-password"}`, `{"name":"dave","password":"dave-password","admin":true}`,
		`{"name":"root","password":"root-password"}`, `{"name":"Carol","password":"carol-password"}`,
		`{"name":"c\u0430rol","password":"carol-password"}`, `{"name":"carol","password":"short"}`,
		`{"name":"portus-cli","password":"long-enough-pw"}`, `{"name":"a\nb","password":"long-enough-pw"}`,
		`{"name":"<script>alert(1)</script>","password":"long-enough-pw"}`, `{"name":"x'; DROP TABLE users; --","password":"long-enough-pw"}`,
		`{"name":"erin","password":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}`, `{"name":"erin","password":"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"}`,
		`{"name":"frank","password":"frank-password","admin":"yes"}`, `{"name":"frank","password":"frank-password","colour":"red"}`,
		`{"NAME":"gina","PASSWORD":"gina-password"}`, `{"name":"hal","name":"ian","password":"ian-password-1"}`,
		`{"name":1,"password":2}`, `{}`, `[]`, `null`, `""`, `{"name":"x"}}`, strings.Repeat("[", 1000), "",
	} {
		f.Add([]byte(s))
	}
	s := testserver.Start(f, testserver.Options{Log: discard{}})
	s.AddUser("root", "root-password", true)
	root := testserver.Basic("root", "root-password")
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := s.Request(http.MethodPost, "/api/v1/users", body, root)
		if err != nil {
			t.Fatal(err)
		}
		var req apitypes.CreateUserRequest
		_ = json.Unmarshal(body, &req)
		// (Short passwords, and those inside the name, could match
		// innocently.)
		if len(req.Password) >= 12 && !strings.Contains(req.Name, req.Password) && bytes.Contains(r.Body, []byte(req.Password)) {
			t.Fatalf("the answer echoes the password: %s", r)
		}
		switch r.Status {
		case http.StatusCreated:
			var u apitypes.User
			if err := json.Unmarshal(r.Body, &u); err != nil || u.Name != req.Name || u.Admin != req.Admin || u.Disabled {
				t.Fatalf("POST %q: created %s, from %+v", body, r.Body, req)
			}
			if bytes.Contains(r.Body, []byte("argon2")) {
				t.Fatalf("the answer holds the password hash: %s", r.Body)
			}
			if got, err := s.Request(http.MethodGet, "/api/v1/tokens", nil, testserver.Basic(req.Name, req.Password)); err != nil || got.Status != http.StatusOK {
				t.Fatalf("the new user %q cannot sign in: %v %s", req.Name, err, got)
			}
		case http.StatusConflict, http.StatusRequestEntityTooLarge:
		case http.StatusBadRequest:
			if r.Message() == "" {
				t.Fatalf("400 without a message for %q", body)
			}
		default:
			t.Fatalf("POST %q: %s", body, r)
		}
	})
}

// FuzzUpdateUserBody sends arbitrary bodies to PATCH /api/v1/users/{name}
// for arbitrary names (never root's, the administrator doing it): the
// server answers 200, 400 (with a message), 404, 409 or 413, never 500,
// and a 200 shows exactly the flags the body set.
func FuzzUpdateUserBody(f *testing.F) {
	for _, c := range []struct{ name, body string }{
		{"alice", `{"admin":true}`}, {"alice", `{"admin":false}`}, {"alice", `{"disabled":true}`}, {"alice", `{"disabled":false}`},
		{"alice", `{"docker_login":"tokens_only"}`}, {"alice", `{"docker_login":"passwords_allowed"}`}, {"alice", `{"docker_login":""}`},
		{"alice", `{"docker_login":"always"}`}, {"alice", `{"unlock":true}`}, {"alice", `{"admin":null,"disabled":null}`},
		{"alice", `{"password":"new-password-1"}`}, {"alice", `{"admin":"true"}`}, {"alice", `{}`}, {"alice", `[]`}, {"alice", `null`},
		{"alice", ``}, {"alice", `{"admin":true}{"admin":false}`}, {"alice", strings.Repeat(`{"a":`, 500)},
		{"nobody", `{"disabled":true}`}, {"Alice", `{"admin":true}`}, {"../root", `{"disabled":true}`},
		{"al%69ce", `{"admin":true}`}, {"alice\n", `{"admin":true}`}, {"<b>x</b>", `{"admin":true}`}, {strings.Repeat("a", 10000), `{}`},
	} {
		f.Add(c.name, []byte(c.body))
	}
	s := testserver.Start(f, testserver.Options{Log: discard{}})
	s.AddUser("root", "root-password", true)
	s.AddUser("alice", "alice-password", false)
	root := testserver.Basic("root", "root-password")
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		if name == "" || strings.EqualFold(path.Clean("/"+name), "/root") || strings.ContainsAny(name, "/?#") {
			// root is the one doing it; empty names and path syntax
			// address other routes.
			return
		}
		r, err := s.Request(http.MethodPatch, "/api/v1/users/"+url.PathEscape(name), body, root)
		if err != nil {
			t.Fatal(err)
		}
		switch r.Status {
		case http.StatusOK:
			var req apitypes.UpdateUserRequest
			_ = json.Unmarshal(body, &req)
			var u apitypes.User
			if err := json.Unmarshal(r.Body, &u); err != nil || u.Name != name {
				t.Fatalf("PATCH %q %q: %s", name, body, r)
			}
			if (req.Admin != nil && u.Admin != *req.Admin) || (req.Disabled != nil && u.Disabled != *req.Disabled) ||
				(req.DockerLogin != nil && u.DockerLogin != *req.DockerLogin) {
				t.Fatalf("PATCH %q %q answered %s", name, body, r.Body)
			}
		case http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge:
		case http.StatusBadRequest:
			if r.Message() == "" {
				t.Fatalf("400 without a message for %q %q", name, body)
			}
		default:
			t.Fatalf("PATCH %q %q: %s", name, body, r)
		}
		// The administrator is never hurt by a change to someone else.
		if r, err := s.Request(http.MethodGet, "/api/v1/users/root", nil, root); err != nil || r.Status != http.StatusOK {
			t.Fatalf("root after PATCH %q %q: %v %s", name, body, err, r)
		}
	})
}
