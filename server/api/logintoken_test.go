package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// Login tokens (what `docker login` with a password leaves behind, as its
// identity token) and the refresh grant that uses them.

// loginPath is docker login's GET: offline_token=true, client_id=docker,
// no scope.
func loginPath(account string) string {
	q := url.Values{"service": {"registry"}, "client_id": {"docker"}, "offline_token": {"true"}}
	if account != "" {
		q.Set("account", account)
	}
	return apitypes.RegistryTokenPath + "?" + q.Encode()
}

// dockerLogin logs in as docker does and returns the refresh token.
func dockerLogin(t *testing.T, s *testserver.Server, user, password string, opts ...testserver.Opt) string {
	t.Helper()
	tok := getRegistryToken(t, s, http.StatusOK, loginPath(user), append(opts, testserver.Basic(user, password))...)
	if apptoken.Check(tok.RefreshToken) != nil {
		t.Fatalf("login answered refresh_token %q, want a ptk_ token", apptoken.Redact(tok.RefreshToken))
	}
	if tok.Token == "" {
		t.Fatal("login answered no token beside the refresh token")
	}
	return tok.RefreshToken
}

// postToken posts a form to the token endpoint.
func postToken(t *testing.T, s *testserver.Server, form url.Values, opts ...testserver.Opt) *testserver.Response {
	t.Helper()
	opts = append([]testserver.Opt{func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }}, opts...)
	return s.Do(http.MethodPost, apitypes.RegistryTokenPath, []byte(form.Encode()), opts...)
}

// refresh runs the refresh grant as dockerd does: no username.
func refresh(t *testing.T, s *testserver.Server, token string, scopes ...string) *testserver.Response {
	t.Helper()
	return postToken(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token},
		"client_id": {"docker"}, "service": {"registry"}, "scope": {strings.Join(scopes, " ")}})
}

// refreshFrom is refresh from the client address ip.
func refreshFrom(t *testing.T, s *testserver.Server, ip, token string) *testserver.Response {
	t.Helper()
	return postToken(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token},
		"client_id": {"docker"}, "service": {"registry"}}, fromIP(ip))
}

func mustRefresh(t *testing.T, s *testserver.Server, token string, scopes ...string) apitypes.RegistryToken {
	t.Helper()
	r := refresh(t, s, token, scopes...)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh grant: %s, want 200", r)
	}
	var tok apitypes.RegistryToken
	testserver.Decode(t, r, &tok)
	if tok.RefreshToken != token {
		t.Errorf("refresh grant echoed another refresh_token")
	}
	return tok
}

// wantRefused checks the refresh grant's refusal: the generic 401.
func wantRefused(t *testing.T, what string, r *testserver.Response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Message(), "authentication failed") {
		t.Errorf("%s: %s, want 401 authentication failed", what, r)
	}
}

func listTokens(t *testing.T, s *testserver.Server, auth testserver.Opt) []apitypes.Token {
	t.Helper()
	var list []apitypes.Token
	testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, auth), &list)
	return list
}

func bearer(token string) testserver.Opt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func kinds(list []apitypes.Token) (app, login int) {
	for _, t := range list {
		switch t.Kind {
		case apitypes.KindApp:
			app++
		case apitypes.KindLogin:
			login++
		}
	}
	return app, login
}

func TestPasswordLoginGetsLoginToken(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1", "::1"}})
	first := dockerLogin(t, s, "alice", alicePW, fromIP("203.0.113.7"))
	list := listTokens(t, s, bearer(first))
	if len(list) != 1 {
		t.Fatalf("after one login alice has %d tokens, want 1: %+v", len(list), list)
	}
	got := list[0]
	if got.Kind != apitypes.KindLogin || got.Name != "docker login from 203.0.113.7" || got.CreatedVia != "docker-login" ||
		got.Scope != apitypes.ScopePush || got.Expired {
		t.Errorf("login token listed as %+v", got)
	}
	// A second login from the same address gets a name of its own; the
	// password grant with access_type=offline makes one too.
	dockerLogin(t, s, "alice", alicePW, fromIP("203.0.113.7"))
	r := postToken(t, s, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePW},
		"service": {"registry"}, "client_id": {"containerd-client"}, "access_type": {"offline"}}, fromIP("2001:db8::1"))
	var tok apitypes.RegistryToken
	testserver.Decode(t, r, &tok)
	if apptoken.Check(tok.RefreshToken) != nil {
		t.Fatalf("password grant with access_type=offline: no refresh token in %s", r)
	}
	names := map[string]bool{}
	for _, tok := range listTokens(t, s, basic("alice", alicePW)) {
		names[tok.Name] = true
	}
	for _, want := range []string{"docker login from 203.0.113.7", "docker login from 203.0.113.7 (2)", "containerd-client login from 2001:db8::1"} {
		if !names[want] {
			t.Errorf("no token named %q among %v", want, names)
		}
	}
	// The audit log has the creation.
	page, _ := activities(t, s, "", basic("alice", alicePW))
	found := false
	for _, a := range page.Activities {
		found = found || a.Action == "token.create" && a.TokenName == "docker login from 203.0.113.7" && strings.Contains(a.Detail, "login token")
	}
	if !found {
		t.Errorf("no token.create entry for the login token in %+v", page.Activities)
	}
}

func TestNoLoginTokenWithoutPasswordOrOffline(t *testing.T) {
	s := start(t, testserver.Options{})
	app := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	// A token as the password: the client keeps that token already.
	if tok := getRegistryToken(t, s, http.StatusOK, loginPath("alice"), basic("alice", app.Token)); tok.RefreshToken != "" {
		t.Error("a login with an application token answered a refresh token")
	}
	// A password without offline_token: a plain token request.
	if tok := getRegistryToken(t, s, http.StatusOK, tokenPath(), basic("alice", alicePW)); tok.RefreshToken != "" {
		t.Error("a password without offline_token answered a refresh token")
	}
	r := postToken(t, s, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePW}, "service": {"registry"}})
	if strings.Contains(string(r.Body), "refresh_token") {
		t.Errorf("password grant without access_type=offline: %s", r)
	}
	// Anonymous with offline_token: nothing to make a token for.
	if tok := getRegistryToken(t, s, http.StatusOK, loginPath("")); tok.RefreshToken != "" {
		t.Error("an anonymous request answered a refresh token")
	}
	if list := listTokens(t, s, basic("alice", alicePW)); len(list) != 1 {
		t.Errorf("alice has %d tokens, want only her application token", len(list))
	}
}

func TestTokensOnlyMakesNoLoginToken(t *testing.T) {
	s := start(t, testserver.Options{Configure: func(c *config.Config) { c.DockerLogin = config.DockerLoginTokensOnly }})
	r := s.Do(http.MethodGet, loginPath("alice"), nil, basic("alice", alicePW))
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Message(), "create an application token") {
		t.Fatalf("tokens_only password login: %s, want 401 telling to use a token", r)
	}
	app := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	if tok := getRegistryToken(t, s, http.StatusOK, loginPath("alice"), basic("alice", app.Token)); tok.RefreshToken != "" {
		t.Error("tokens_only: a token login answered a refresh token")
	}
	if app, login := kinds(listTokens(t, s, bearer(app.Token))); app != 1 || login != 0 {
		t.Errorf("tokens_only: %d application and %d login tokens, want 1 and 0", app, login)
	}
}

func TestRefreshGrant(t *testing.T) {
	f := newRegistryFixture(t)
	login := dockerLogin(t, f.Server, "alice", "alice-password")
	tok := mustRefresh(t, f.Server, login, "repository:alice/app:pull,push", "repository:busybox:pull")
	if sub := string(claimsOf(t, tok.Token)["sub"]); sub != `"alice"` {
		t.Errorf("refresh grant JWT for %s, want alice", sub)
	}
	if got := grantedActions(t, tok.Token, "alice/app"); got != "pull,push" {
		t.Errorf("login token (push scope) on alice/app: %q, want pull,push", got)
	}
	// Any token kind works, narrowed by its scope.
	tok = mustRefresh(t, f.Server, f.pull, "repository:alice/app:pull,push")
	if got := grantedActions(t, tok.Token, "alice/app"); got != "pull" {
		t.Errorf("pull token on alice/app: %q, want pull", got)
	}
	// Policy still applies: nothing on another user's namespace.
	tok = mustRefresh(t, f.Server, f.del, "repository:root/app:pull,push")
	if got := grantedActions(t, tok.Token, "root/app"); got != "" {
		t.Errorf("alice's token on root/app: %q, want nothing", got)
	}

	forged, _ := apptoken.New()
	wantRefused(t, "unknown token", refresh(t, f.Server, forged))
	wantRefused(t, "a password as refresh token", refresh(t, f.Server, "alice-password"))
	if r := postToken(t, f.Server, url.Values{"grant_type": {"refresh_token"}, "service": {"registry"}}); r.Status != http.StatusBadRequest {
		t.Errorf("refresh grant without refresh_token: %s, want 400", r)
	}
	// Revoked: by itself with the Bearer form.
	f.Expect(http.StatusNoContent, http.MethodDelete, apitypes.CurrentTokenPath, nil, bearer(login))
	wantRefused(t, "revoked login token", refresh(t, f.Server, login))
	// A disabled owner's tokens stop.
	f.Expect(http.StatusOK, http.MethodPatch, "/api/v1/users/alice", map[string]bool{"disabled": true}, basic("root", "root-password"))
	wantRefused(t, "disabled owner", refresh(t, f.Server, f.push))
}

func TestLoginTokenExpiry(t *testing.T) {
	s := start(t, testserver.Options{Configure: func(c *config.Config) {
		c.LoginTokenIdle, c.LoginTokenMaxAge = time.Hour, 3*time.Hour
	}})
	idle := dockerLogin(t, s, "alice", alicePW)
	busy := dockerLogin(t, s, "alice", alicePW)
	app := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	// busy is used every 50 minutes, idle never.
	for range 3 {
		s.Clock.Advance(50 * time.Minute)
		mustRefresh(t, s, busy)
	}
	wantRefused(t, "idle login token", refresh(t, s, idle))
	expired := map[string]bool{}
	for _, tok := range listTokens(t, s, basic("alice", alicePW)) {
		expired[tok.Kind+" "+tok.Name] = tok.Expired
	}
	want := map[string]bool{"login docker login from 127.0.0.1": true, "login docker login from 127.0.0.1 (2)": false, "app laptop": false}
	if fmt.Sprint(expired) != fmt.Sprint(want) {
		t.Errorf("expired flags %v, want %v", expired, want)
	}
	// Used all along, busy still ends at its maximum age; the application
	// token, as old, does not.
	s.Clock.Advance(25 * time.Minute) // 2h55m since the login
	mustRefresh(t, s, busy)
	s.Clock.Advance(10 * time.Minute)
	wantRefused(t, "login token past its maximum age", refresh(t, s, busy))
	if r := s.Do(http.MethodGet, apitypes.TokensPath, nil, bearer(busy)); r.Status != http.StatusUnauthorized {
		t.Errorf("expired login token on the API: %s, want 401", r)
	}
	mustRefresh(t, s, app.Token)
}

func TestLoginTokenCapEvictsLeastRecentlyUsed(t *testing.T) {
	s := start(t, testserver.Options{})
	var apps []string
	for i := range 5 {
		apps = append(apps, s.CreateToken("alice", alicePW, tokenReq(fmt.Sprintf("app %d", i))).Token)
	}
	var logins []string
	for range 10 {
		logins = append(logins, dockerLogin(t, s, "alice", alicePW))
		s.Clock.Advance(time.Minute)
	}
	// The oldest login is used now: the second becomes the least recently used.
	mustRefresh(t, s, logins[0])
	s.Clock.Advance(time.Minute)
	eleventh := dockerLogin(t, s, "alice", alicePW)

	wantRefused(t, "evicted login token", refresh(t, s, logins[1]))
	mustRefresh(t, s, logins[0])
	mustRefresh(t, s, eleventh)
	for i, a := range apps {
		if r := refresh(t, s, a); r.Status != http.StatusOK {
			t.Errorf("application token %d after the 11th login: %s", i, r)
		}
	}
	if app, login := kinds(listTokens(t, s, basic("alice", alicePW))); app != 5 || login != 10 {
		t.Errorf("after 11 logins alice has %d application and %d login tokens, want 5 and 10", app, login)
	}
	// The five application slots are still the limit.
	if r := s.Do(http.MethodPost, apitypes.TokensPath, tokenReq("sixth"), basic("alice", alicePW)); r.Status != http.StatusConflict && r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusForbidden {
		t.Errorf("a sixth application token: %s, want refused", r)
	}
	page, _ := activities(t, s, "", basic("alice", alicePW))
	evictions := 0
	for _, a := range page.Activities {
		if a.Action == "token.revoke" && strings.Contains(a.Detail, "least recently used login token") {
			evictions++
			if a.TokenName != "docker login from 127.0.0.1 (2)" {
				t.Errorf("evicted %q, want the second login's token", a.TokenName)
			}
		}
	}
	if evictions != 1 {
		t.Errorf("%d eviction entries in the audit log, want 1", evictions)
	}
}

// TestRefreshGrantThrottled: bad refresh tokens count as token failures
// of the client's address, like bad tokens with a username.
func TestRefreshGrantThrottled(t *testing.T) {
	s := start(t, testserver.Options{TrustedProxies: []string{"127.0.0.1", "::1"}})
	good := dockerLogin(t, s, "alice", alicePW)
	const attacker = "203.0.113.66"
	throttled := false
	for range 50 {
		forged, _ := apptoken.New()
		r := refreshFrom(t, s, attacker, forged)
		if r.Status == http.StatusTooManyRequests {
			throttled = r.Header.Get("Retry-After") != ""
			break
		}
		wantRefused(t, "forged refresh token", r)
	}
	if !throttled {
		t.Fatal("50 forged refresh tokens from one address were never throttled (429 with Retry-After)")
	}
	if r := refreshFrom(t, s, attacker, good); r.Status != http.StatusTooManyRequests {
		t.Errorf("the throttled address with a good token: %s, want 429", r)
	}
	mustRefresh(t, s, good) // another address is not held up
	s.CoolDown()
	if r := refreshFrom(t, s, attacker, good); r.Status != http.StatusOK {
		t.Errorf("after the cool-down: %s, want 200", r)
	}
}

func TestBearerOnTheAPI(t *testing.T) {
	s := start(t, testserver.Options{})
	login := dockerLogin(t, s, "alice", alicePW)
	app := s.CreateToken("alice", alicePW, tokenReq("laptop"))
	if list := listTokens(t, s, bearer(app.Token)); len(list) != 2 {
		t.Errorf("Bearer application token lists %d tokens, want 2", len(list))
	}
	listTokens(t, s, func(r *http.Request) { r.Header.Set("Authorization", "bearer "+login) })
	// The helper learns an identity token's owner from GET /api/v1/user.
	var me apitypes.User
	testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, apitypes.CallerPath, nil, bearer(login)), &me)
	if me.Name != "alice" {
		t.Errorf("GET %s with alice's login token: %+v", apitypes.CallerPath, me)
	}
	want401(t, "GET the caller without credentials", s.Do(http.MethodGet, apitypes.CallerPath, nil))
	// A token is a token: no password-only action with it.
	if r := s.Do(http.MethodPost, apitypes.TokensPath, tokenReq("more"), bearer(login)); r.Status != http.StatusForbidden {
		t.Errorf("creating a token with a Bearer token: %s, want 403", r)
	}
	s.Expect(http.StatusNoContent, http.MethodDelete, apitypes.CurrentTokenPath, nil, bearer(login))
	want401(t, "Bearer after revoking itself", s.Do(http.MethodGet, apitypes.TokensPath, nil, bearer(login)))
	wantRefused(t, "refresh after revoking itself", refresh(t, s, login))
	if list := listTokens(t, s, bearer(app.Token)); len(list) != 1 || list[0].Name != "laptop" {
		t.Errorf("after revoking the login token: %+v", list)
	}
}

// BenchmarkRefreshGrant compares the refresh grant with the GET
// application-token path in process: both are one HMAC and one lookup,
// and should cost about the same.
func BenchmarkRefreshGrant(b *testing.B) {
	s := testserver.Start(b, testserver.Options{Log: discard{}})
	s.AddUser("alice", "alice-password", false)
	token := s.CreateToken("alice", "alice-password", apitypes.CreateTokenRequest{Name: "bench"}).Token
	handler := s.HTTP.Config.Handler
	path := tokenPath("repository:alice/app:pull,push")
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {"docker"},
		"service": {"registry"}, "scope": {"repository:alice/app:pull,push"}}.Encode()
	run := func(b *testing.B, req func() *http.Request) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, req())
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	b.Run("get-token", func(b *testing.B) {
		run(b, func() *http.Request {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.SetBasicAuth("alice", token)
			return req
		})
	})
	post := func(form string) func() *http.Request {
		return func() *http.Request {
			req := httptest.NewRequest(http.MethodPost, apitypes.RegistryTokenPath, strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}
	}
	b.Run("refresh", func(b *testing.B) { run(b, post(form)) })
	// What scripts/bench/run measures: the login token of a docker login.
	req := httptest.NewRequest(http.MethodGet, loginPath("alice"), nil)
	req.SetBasicAuth("alice", "alice-password")
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	var login apitypes.RegistryToken
	if err := json.Unmarshal(w.Body.Bytes(), &login); err != nil || login.RefreshToken == "" {
		b.Fatalf("docker login: %d %v", w.Code, err)
	}
	form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login.RefreshToken}, "client_id": {"docker"},
		"service": {"registry"}, "scope": {"repository:alice/app:pull,push"}}.Encode()
	b.Run("refresh-login-token", func(b *testing.B) { run(b, post(form)) })
}
