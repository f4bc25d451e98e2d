package portusclient

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

const password = "correct horse battery staple"

func newFake(t *testing.T) *fakeportus.Server {
	s := fakeportus.New(t, fakeportus.Options{})
	s.AddUser("alice", password)
	return s
}

func newClient(t *testing.T, base string, opts Options) *Client {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	c, err := New(base, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func helperRequest() apitypes.CreateTokenRequest {
	return apitypes.CreateTokenRequest{Name: "docker-credential-portus@box", Replace: true, CreatedVia: apitypes.ViaHelper}
}

// checkNoSecret fails if err's message holds the password.
func checkNoSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), password) {
		t.Fatalf("error message holds the password: %v", err)
	}
}

func TestCreateAndRevoke(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s.URL()+"/", Options{})
	if c.URL() != s.URL() || c.ProfileURL() != s.URL()+"/profile" {
		t.Fatalf("URL %q, ProfileURL %q", c.URL(), c.ProfileURL())
	}
	ctx := context.Background()
	created, err := c.CreateToken(ctx, "alice", password, helperRequest())
	if err != nil {
		t.Fatal(err)
	}
	if !apptoken.Valid(created.Token) || created.Name != "docker-credential-portus@box" || created.Scope != "push" {
		t.Fatalf("created %+v", created)
	}
	toks := s.Tokens("alice")
	if len(toks) != 1 || toks[0].CreatedVia != apitypes.ViaHelper {
		t.Fatalf("server holds %+v", toks)
	}
	// Replace: a second login from the same machine does not pile up tokens.
	again, err := c.CreateToken(ctx, "alice", password, helperRequest())
	if err != nil {
		t.Fatal(err)
	}
	if toks := s.Tokens("alice"); len(toks) != 1 || toks[0].Plain != again.Token {
		t.Fatalf("after replace the server holds %+v", toks)
	}
	gone, err := c.RevokeCurrent(ctx, "alice", again.Token)
	if err != nil || gone {
		t.Fatalf("RevokeCurrent = %v, %v", gone, err)
	}
	if toks := s.Tokens("alice"); len(toks) != 0 {
		t.Fatalf("after revoke the server holds %+v", toks)
	}
	gone, err = c.RevokeCurrent(ctx, "alice", again.Token)
	if err != nil || !gone {
		t.Fatalf("second RevokeCurrent = %v, %v; want already gone", gone, err)
	}
}

func TestCreateErrors(t *testing.T) {
	s := newFake(t)
	c := newClient(t, s.URL(), Options{})
	ctx := context.Background()

	_, err := c.CreateToken(ctx, "alice", "wrong", helperRequest())
	if !errors.Is(err, ErrWrongPassword) || !strings.Contains(err.Error(), `"alice"`) {
		t.Fatalf("wrong password: %v", err)
	}

	s.SetLimit(1)
	s.IssueToken("alice", "laptop")
	_, err = c.CreateToken(ctx, "alice", password, helperRequest())
	if !errors.Is(err, ErrLimitReached) {
		t.Fatalf("limit: %v", err)
	}
	for _, want := range []string{s.URL() + "/profile", "more than 1 application tokens", "revoke"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("limit message %q lacks %q", err, want)
		}
	}
	checkNoSecret(t, err)

	s.Fail(&fakeportus.Failure{Status: http.StatusTooManyRequests, Message: "slow down", RetryAfter: "30"})
	_, err = c.CreateToken(ctx, "alice", password, helperRequest())
	var e *Error
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &e) || e.RetryAfter != 30*time.Second || !strings.Contains(err.Error(), "30s") {
		t.Fatalf("throttled: %v", err)
	}

	s.Fail(&fakeportus.Failure{Status: http.StatusServiceUnavailable, Message: "database is down"})
	_, err = c.CreateToken(ctx, "alice", password, helperRequest())
	if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("5xx: %v", err)
	}

	s.Fail(&fakeportus.Failure{Status: http.StatusBadRequest, Message: "scope: must be pull, push or delete"})
	_, err = c.CreateToken(ctx, "alice", password, helperRequest())
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "scope: must be") {
		t.Fatalf("400: %v", err)
	}

	s.Fail(&fakeportus.Failure{Status: http.StatusUnprocessableEntity, Message: "name has already been taken"})
	_, err = c.CreateToken(ctx, "alice", password, helperRequest())
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("422 that is not the limit: %v", err)
	}

	s.Fail(&fakeportus.Failure{Status: http.StatusOK, Message: "not a token"})
	_, err = c.CreateToken(ctx, "alice", password, helperRequest())
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("200 without token: %v", err)
	}

	s.Fail(&fakeportus.Failure{Status: http.StatusInternalServerError, Message: "oops " + s.IssueToken("bob", "x")})
	_, err = c.CreateToken(ctx, "alice", password, helperRequest())
	if tokenPattern.MatchString(err.Error()) {
		t.Fatalf("server message with a token shown unredacted: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	c := newClient(t, fakeportus.Unreachable(t), Options{})
	_, err := c.CreateToken(context.Background(), "alice", password, helperRequest())
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "cannot reach Portus at") {
		t.Fatalf("unreachable: %v", err)
	}
	checkNoSecret(t, err)
	_, err = c.RevokeCurrent(context.Background(), "alice", password)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("unreachable revoke: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	srv := hangingServer(t, hang)
	c := newClient(t, srv, Options{Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := c.CreateToken(context.Background(), "alice", password, helperRequest())
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "no answer within 200ms") || !strings.Contains(err.Error(), "http_timeout") {
		t.Fatalf("timeout: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %s", d)
	}
}

func TestTLS(t *testing.T) {
	s := fakeportus.New(t, fakeportus.Options{TLS: true})
	s.AddUser("alice", password)

	c := newClient(t, s.URL(), Options{})
	_, err := c.CreateToken(context.Background(), "alice", password, helperRequest())
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("unknown CA: %v", err)
	}

	c = newClient(t, s.URL(), Options{CAFile: s.CAFile(t, t.TempDir())})
	if _, err := c.CreateToken(context.Background(), "alice", password, helperRequest()); err != nil {
		t.Fatalf("with ca_file: %v", err)
	}

	// https to a plain-HTTP server is a TLS failure too.
	plain := newFake(t)
	c = newClient(t, strings.Replace(plain.URL(), "http://", "https://", 1), Options{})
	_, err = c.CreateToken(context.Background(), "alice", password, helperRequest())
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("https to http: %v", err)
	}

	if _, err := New(s.URL(), Options{CAFile: "/nonexistent/ca.pem"}); err == nil {
		t.Fatal("New with a missing CA file: want an error")
	}
}

func TestNoRedirectWithCredentials(t *testing.T) {
	target := newFake(t)
	srv := redirectServer(t, target.URL())
	c := newClient(t, srv, Options{})
	_, err := c.CreateToken(context.Background(), "alice", password, helperRequest())
	if err == nil {
		t.Fatal("followed a redirect with credentials")
	}
	if _, creates, _ := target.Counts(); creates != 0 {
		t.Fatal("the redirect target received the request")
	}
}

func TestDiscover(t *testing.T) {
	ctx := context.Background()
	opts := Options{Timeout: 5 * time.Second}

	s := newFake(t)
	got, err := Discover(ctx, s.RegistryHost(), opts)
	if err != nil || got != s.URL() {
		t.Fatalf("Discover = %q, %v; want %q", got, err, s.URL())
	}

	tests := []struct {
		name      string
		status    int
		challenge string
		kind      error
		want      string
	}{
		{"open registry", 200, "", ErrNotPortus, "no authentication"},
		{"basic", 401, `Basic realm="Registry"`, ErrNotPortus, "basic authentication"},
		{"no challenge", 401, "", ErrNotPortus, "no WWW-Authenticate"},
		{"not found", 404, "", ErrNotPortus, "HTTP 404"},
		{"other token server", 401, `Bearer realm="https://auth.example.com/token",service="registry"`, ErrNotPortus, "auth.example.com/token"},
		{"bad realm", 401, `Bearer realm="/v2/token"`, ErrProtocol, "not an absolute"},
		{"plain http elsewhere", 401, `Bearer realm="http://portus.example.com/v2/token"`, ErrInsecure, "http://portus.example.com"},
	}
	for _, tt := range tests {
		host := fakeportus.Registry(t, tt.status, tt.challenge)
		_, err := Discover(ctx, host, opts)
		if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v; want %v mentioning %q", tt.name, err, tt.kind, tt.want)
		}
	}

	// A path prefix survives; plain http on loopback is fine.
	host := fakeportus.Registry(t, 401, `Bearer realm="http://127.0.0.1:3000/portus/v2/token",service="r"`)
	if got, err := Discover(ctx, host, opts); err != nil || got != "http://127.0.0.1:3000/portus" {
		t.Fatalf("prefixed realm: %q, %v", got, err)
	}

	// Docker Hub is never Portus, and is not asked.
	if _, err := Discover(ctx, "https://index.docker.io/v1/", opts); !errors.Is(err, ErrNotPortus) {
		t.Fatalf("Docker Hub: %v", err)
	}

	// Nothing listening.
	_, err = Discover(ctx, strings.TrimPrefix(fakeportus.Unreachable(t), "http://"), opts)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "the registry at http://localhost:") {
		t.Fatalf("unreachable registry: %v", err)
	}
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		in   []string
		want []Challenge
	}{
		{[]string{`Bearer realm="https://p.example/v2/token",service="registry"`},
			[]Challenge{{"bearer", map[string]string{"realm": "https://p.example/v2/token", "service": "registry"}}}},
		{[]string{`Basic realm="x", Bearer realm="y", error="invalid_token"`},
			[]Challenge{{"basic", map[string]string{"realm": "x"}}, {"bearer", map[string]string{"realm": "y", "error": "invalid_token"}}}},
		{[]string{`Basic realm="Registry Realm"`, `BEARER Realm = "a\"b" , scope=repository:x:pull`},
			[]Challenge{{"basic", map[string]string{"realm": "Registry Realm"}}, {"bearer", map[string]string{"realm": `a"b`, "scope": "repository:x:pull"}}}},
		{[]string{`Negotiate abc123==`}, []Challenge{{"negotiate", map[string]string{"abc123": "="}}}},
		{[]string{``, `  ,  `}, nil},
	}
	for _, tt := range tests {
		got := ParseChallenges(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseChallenges(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseChallenges(f *testing.F) {
	f.Add(`Bearer realm="https://p.example/v2/token",service="registry"`)
	f.Add(`Basic realm="x", Bearer realm="y\"", a=b,,c`)
	f.Add(`"=,\`)
	f.Fuzz(func(t *testing.T, s string) {
		_ = ParseChallenges([]string{s})
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"120":                           2 * time.Minute,
		"soon":                          0,
		"Thu, 01 Jan 2026 12:01:00 GMT": time.Minute,
		"Thu, 01 Jan 2026 11:00:00 GMT": 0,
	}
	for in, want := range tests {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}
