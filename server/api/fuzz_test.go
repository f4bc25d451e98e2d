package api_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
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
