package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/registryauth"
	"github.com/portusproject/portus/shared/apitypes"
)

// registryFixture is a server with alice (user), root (admin) and tokens of
// each scope for alice.
type registryFixture struct {
	*testserver.Server
	pull, push, del string
}

func newRegistryFixture(t *testing.T) *registryFixture {
	t.Helper()
	s := testserver.Start(t, testserver.Options{})
	s.AddUser("alice", "alice-password", false)
	s.AddUser("root", "root-password", true)
	f := &registryFixture{Server: s}
	f.pull = s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "pull", Scope: "pull"}).Token
	f.push = s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "push", Scope: "push"}).Token
	f.del = s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "delete", Scope: "delete"}).Token
	return f
}

// claimsOf decodes a JWT's payload without verifying it (registryauth's
// tests verify signatures; here we check what the endpoint put in).
func claimsOf(t *testing.T, token string) map[string]json.RawMessage {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact token: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func accessOf(t *testing.T, token string) []registryauth.Access {
	t.Helper()
	var access []registryauth.Access
	if err := json.Unmarshal(claimsOf(t, token)["access"], &access); err != nil {
		t.Fatal(err)
	}
	return access
}

// grantedActions returns the actions granted on one repository.
func grantedActions(t *testing.T, token, repo string) string {
	t.Helper()
	for _, a := range accessOf(t, token) {
		if a.Name == repo {
			return strings.Join(a.Actions, ",")
		}
	}
	return ""
}

func tokenPath(scopes ...string) string {
	q := url.Values{"service": {"registry"}}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	return apitypes.RegistryTokenPath + "?" + q.Encode()
}

func getRegistryToken(t *testing.T, s *testserver.Server, want int, path string, opts ...testserver.Opt) apitypes.RegistryToken {
	t.Helper()
	r := s.Expect(want, http.MethodGet, path, nil, opts...)
	var tok apitypes.RegistryToken
	if want == http.StatusOK {
		testserver.Decode(t, r, &tok)
	}
	return tok
}

func TestRegistryTokenResponse(t *testing.T) {
	f := newRegistryFixture(t)
	r := f.Expect(http.StatusOK, http.MethodGet, tokenPath("repository:alice/app:pull"), nil, testserver.Basic("alice", f.push))
	var tok apitypes.RegistryToken
	testserver.Decode(t, r, &tok)
	if tok.Token == "" || tok.Token != tok.AccessToken {
		t.Fatalf("token and access_token must be equal and set: %+v", tok)
	}
	if tok.ExpiresIn != 300 {
		t.Errorf("expires_in = %d, want 300", tok.ExpiresIn)
	}
	if _, err := time.Parse(time.RFC3339, tok.IssuedAt); err != nil {
		t.Errorf("issued_at %q is not RFC 3339", tok.IssuedAt)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	c := claimsOf(t, tok.Token)
	var aud any
	json.Unmarshal(c["aud"], &aud)
	if aud != "registry" {
		t.Errorf("aud = %s, want the JSON string \"registry\"", c["aud"])
	}
	var sub, iss string
	json.Unmarshal(c["sub"], &sub)
	json.Unmarshal(c["iss"], &iss)
	if sub != "alice" || iss != f.Config.Issuer {
		t.Errorf("sub = %q, iss = %q", sub, iss)
	}
	var iat, exp int64
	json.Unmarshal(c["iat"], &iat)
	json.Unmarshal(c["exp"], &exp)
	if exp-iat != 300 {
		t.Errorf("exp - iat = %d, want 300", exp-iat)
	}
}

func TestRegistryTokenPolicy(t *testing.T) {
	f := newRegistryFixture(t)
	alicePw := testserver.Basic("alice", "alice-password")
	cases := []struct {
		name  string
		auth  testserver.Opt
		scope string
		repo  string
		want  string
	}{
		{"password: own namespace, everything", alicePw, "repository:alice/app:pull,push,delete", "alice/app", "pull,push,delete"},
		{"password: deeper in own namespace", alicePw, "repository:alice/team/app:push", "alice/team/app", "push"},
		{"password: other user's namespace", alicePw, "repository:bob/app:pull,push", "bob/app", ""},
		{"password: top-level pull only", alicePw, "repository:busybox:pull,push", "busybox", "pull"},
		{"pull token never pushes", testserver.Basic("alice", f.pull), "repository:alice/app:pull,push", "alice/app", "pull"},
		{"push token does not delete", testserver.Basic("alice", f.push), "repository:alice/app:pull,push,delete", "alice/app", "pull,push"},
		{"delete token deletes", testserver.Basic("alice", f.del), "repository:alice/app:delete", "alice/app", "delete"},
		{"admin pushes anywhere", testserver.Basic("root", "root-password"), "repository:bob/app:push", "bob/app", "push"},
		{"admin reads the catalog", testserver.Basic("root", "root-password"), "registry:catalog:*", "catalog", "*"},
		{"user cannot read the catalog", alicePw, "registry:catalog:*", "catalog", ""},
		{"anonymous gets nothing", nil, "repository:busybox:pull", "busybox", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []testserver.Opt
			if tc.auth != nil {
				opts = append(opts, tc.auth)
			}
			tok := getRegistryToken(t, f.Server, http.StatusOK, tokenPath(tc.scope), opts...)
			if got := grantedActions(t, tok.Token, tc.repo); got != tc.want {
				t.Errorf("granted %q on %s, want %q", got, tc.repo, tc.want)
			}
		})
	}
}

func TestRegistryTokenMergesScopes(t *testing.T) {
	f := newRegistryFixture(t)
	tok := getRegistryToken(t, f.Server, http.StatusOK,
		tokenPath("repository:alice/app:pull", "repository:alice/app:push", "repository:alice/other:pull"),
		testserver.Basic("alice", "alice-password"))
	access := accessOf(t, tok.Token)
	if len(access) != 2 || grantedActions(t, tok.Token, "alice/app") != "pull,push" {
		t.Fatalf("access = %+v, want alice/app pull,push merged and alice/other", access)
	}
}

func TestRegistryTokenAnonymous(t *testing.T) {
	f := newRegistryFixture(t)
	tok := getRegistryToken(t, f.Server, http.StatusOK, tokenPath())
	c := claimsOf(t, tok.Token)
	if string(c["sub"]) != `""` || string(c["access"]) != "[]" {
		t.Fatalf("anonymous token: sub %s, access %s; want \"\" and []", c["sub"], c["access"])
	}
}

func TestRegistryTokenErrors(t *testing.T) {
	f := newRegistryFixture(t)
	cases := []struct {
		name    string
		path    string
		auth    testserver.Opt
		status  int
		message string
	}{
		{"unknown service", "/v2/token?service=elsewhere", nil, 400, `unknown service "elsewhere"; this server issues tokens for: registry`},
		{"missing service", "/v2/token", nil, 400, "this server issues tokens for: registry"},
		{"two-part scope", tokenPath("repository:alice/app"), nil, 400, "repository:alice/app"},
		{"unknown scope type", tokenPath("volume:alice/app:pull"), nil, 400, "volume:alice/app:pull"},
		{"account mismatch", tokenPath() + "&account=bob", testserver.Basic("alice", "alice-password"), 400, `account "bob" does not match`},
		{"account without credentials", tokenPath() + "&account=bob", nil, 400, "does not match"},
		{"wrong password", tokenPath(), testserver.Basic("alice", "wrong-password"), 401, "authentication failed"},
		{"unknown user", tokenPath(), testserver.Basic("nobody", "some-password"), 401, "authentication failed"},
		{"token of another user", tokenPath(), testserver.Basic("root", f.push), 401, "authentication failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []testserver.Opt
			if tc.auth != nil {
				opts = append(opts, tc.auth)
			}
			r := f.Expect(tc.status, http.MethodGet, tc.path, nil, opts...)
			var body struct{ Message, Details string }
			testserver.Decode(t, r, &body)
			if !strings.Contains(body.Message, tc.message) || body.Details != body.Message {
				t.Errorf("message %q (details %q), want it to contain %q", body.Message, body.Details, tc.message)
			}
			if tc.status == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic realm=") {
				t.Errorf("401 without a Basic challenge: %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	f.CoolDown()
	getRegistryToken(t, f.Server, http.StatusOK, tokenPath()+"&account=alice", testserver.Basic("alice", "alice-password"))
}

func TestRegistryTokenRefusesDeadTokens(t *testing.T) {
	f := newRegistryFixture(t)
	expiring := f.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "expiring", ExpiresAt: ptr(f.Clock.Now().Add(time.Hour))})
	getRegistryToken(t, f.Server, http.StatusOK, tokenPath(), testserver.Basic("alice", expiring.Token))
	f.Clock.Advance(time.Hour)
	getRegistryToken(t, f.Server, http.StatusUnauthorized, tokenPath(), testserver.Basic("alice", expiring.Token))

	var list []apitypes.Token
	testserver.Decode(t, f.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, testserver.Basic("alice", f.pull)), &list)
	f.Expect(http.StatusNoContent, http.MethodDelete, apitypes.CurrentTokenPath, nil, testserver.Basic("alice", f.pull))
	getRegistryToken(t, f.Server, http.StatusUnauthorized, tokenPath(), testserver.Basic("alice", f.pull))

	f.Expect(http.StatusOK, http.MethodPatch, "/api/v1/users/alice", map[string]bool{"disabled": true}, testserver.Basic("root", "root-password"))
	getRegistryToken(t, f.Server, http.StatusUnauthorized, tokenPath(), testserver.Basic("alice", f.push))
	getRegistryToken(t, f.Server, http.StatusUnauthorized, tokenPath(), testserver.Basic("alice", "alice-password"))
}

func TestRegistryTokenOAuthForm(t *testing.T) {
	f := newRegistryFixture(t)
	post := func(form url.Values) *testserver.Response {
		req, _ := http.NewRequest(http.MethodPost, f.URL+apitypes.RegistryTokenPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := f.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body []byte
		body, _ = readAll(resp)
		return &testserver.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	}
	r := post(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {f.push}, "service": {"registry"},
		"client_id": {"containerd"}, "scope": {"repository:alice/app:pull,push repository:busybox:pull"}})
	if r.Status != http.StatusOK {
		t.Fatalf("OAuth password grant: %s", r)
	}
	var tok apitypes.RegistryToken
	testserver.Decode(t, r, &tok)
	if tok.AccessToken == "" || grantedActions(t, tok.AccessToken, "alice/app") != "pull,push" || grantedActions(t, tok.AccessToken, "busybox") != "pull" {
		t.Fatalf("OAuth token access: %+v", accessOf(t, tok.AccessToken))
	}
	if r := post(url.Values{"grant_type": {"refresh_token"}, "service": {"registry"}}); r.Status != http.StatusBadRequest {
		t.Errorf("refresh_token grant: %s, want 400", r)
	}
	if r := post(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password"}, "service": {"registry"}}); r.Status != http.StatusUnauthorized {
		t.Errorf("wrong password: %s, want 401", r)
	}
}

// The token endpoint and the API share one throttle.
func TestRegistryTokenSharesTheThrottle(t *testing.T) {
	f := newRegistryFixture(t)
	for i := 0; i < 10; i++ {
		f.Do(http.MethodGet, apitypes.TokensPath, nil, testserver.Basic("alice", "wrong-password"))
	}
	r := f.Expect(http.StatusTooManyRequests, http.MethodGet, tokenPath(), nil, testserver.Basic("alice", "alice-password"))
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Application tokens are not locked out with the password.
	getRegistryToken(t, f.Server, http.StatusOK, tokenPath(), testserver.Basic("alice", f.push))
	f.CoolDown()
	getRegistryToken(t, f.Server, http.StatusOK, tokenPath(), testserver.Basic("alice", "alice-password"))
}

func TestJWKS(t *testing.T) {
	f := newRegistryFixture(t)
	issuer, err := app.LoadIssuer(f.Config)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Expect(http.StatusOK, http.MethodGet, "/.well-known/jwks.json", nil)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	testserver.Decode(t, r, &set)
	if len(set.Keys) != 1 || set.Keys[0].Kid != issuer.Signer.KeyID() || set.Keys[0].Alg != "ES256" {
		t.Fatalf("jwks = %s", r.Body)
	}
}

// BenchmarkRegistryToken measures /v2/token in process (the gin router,
// the account service and a real bbolt file; no network) next to the bare
// ES256 signature it cannot beat.
func BenchmarkRegistryToken(b *testing.B) {
	s := testserver.Start(b, testserver.Options{DefaultParams: true, Log: discard{}})
	s.AddUser("alice", "alice-password", false)
	token := s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "bench"}).Token
	handler := s.HTTP.Config.Handler
	path := tokenPath("repository:alice/app:pull,push")

	run := func(b *testing.B, user, secret string) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if user != "" {
				req.SetBasicAuth(user, secret)
			}
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	b.Run("token", func(b *testing.B) { run(b, "alice", token) })
	b.Run("password", func(b *testing.B) { run(b, "alice", "alice-password") })
	b.Run("anonymous", func(b *testing.B) { run(b, "", "") })
	b.Run("issue", func(b *testing.B) {
		issuer, err := app.LoadIssuer(s.Config)
		if err != nil {
			b.Fatal(err)
		}
		access := []registryauth.Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull", "push"}}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := issuer.Issue("alice", "registry", access, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The floor: one ES256 signature over a token-sized input, nothing else.
	b.Run("raw-es256-sign", func(b *testing.B) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		input := strings.Repeat("x", 900) // header with x5c + claims, base64url
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jwt.SigningMethodES256.Sign(input, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func ptr[T any](v T) *T { return &v }

func readAll(resp *http.Response) ([]byte, error) {
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return []byte(sb.String()), nil
		}
	}
}

func TestMetrics(t *testing.T) {
	f := newRegistryFixture(t)
	getRegistryToken(t, f.Server, http.StatusOK, tokenPath("repository:alice/app:pull"), testserver.Basic("alice", f.push))
	getRegistryToken(t, f.Server, http.StatusUnauthorized, tokenPath(), testserver.Basic("alice", "wrong-password"))
	body := string(f.Expect(http.StatusOK, http.MethodGet, "/metrics", nil).Body)
	for _, want := range []string{
		`portus_http_requests_total{code="200",method="GET",route="/v2/token"} 1`,
		`portus_http_requests_total{code="401",method="GET",route="/v2/token"} 1`,
		`portus_registry_token_duration_seconds_count 2`,
		`portus_auth_failures_total{kind="password"} 1`,
		`portus_active_tokens 3`,
		`portus_throttled_usernames 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "alice") || strings.Contains(body, f.push) || strings.Contains(body, "wrong password") || strings.Contains(body, "unknown user") {
		t.Error("/metrics names a user, a token or a failure reason")
	}
}

// The policy comes from the configuration.
func TestRegistryPolicyIsConfigurable(t *testing.T) {
	s := testserver.Start(t, testserver.Options{Configure: func(c *config.Config) {
		c.AnonymousPull = []string{"library/*"}
		c.UserNamespaces = false
	}})
	s.AddUser("alice", "alice-password", false)
	tok := getRegistryToken(t, s, http.StatusOK, tokenPath("repository:library/busybox:pull,push", "repository:other/app:pull"))
	if got := grantedActions(t, tok.Token, "library/busybox"); got != "pull" {
		t.Errorf("anonymous pull on library/busybox: %q, want pull", got)
	}
	if got := grantedActions(t, tok.Token, "other/app"); got != "" {
		t.Errorf("anonymous pull outside the pattern: %q", got)
	}
	tok = getRegistryToken(t, s, http.StatusOK, tokenPath("repository:alice/app:push"), testserver.Basic("alice", "alice-password"))
	if got := grantedActions(t, tok.Token, "alice/app"); got != "" {
		t.Errorf("with user namespaces off alice got %q on alice/app", got)
	}
}
