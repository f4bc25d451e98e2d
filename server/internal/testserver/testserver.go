// Package testserver runs the real Portus public handler (app.PublicHandler,
// the gin router) over a real bbolt file in a temporary directory, for the
// HTTP tests of the server packages. It adds only what tests need around
// the real parts: a fake clock, cheap password hashing, a captured log, and
// small helpers to send authenticated requests.
package testserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/metrics"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// CheapParams are argon2id costs that keep tests fast under -race. Hashes
// carry their parameters, so a user created with them signs in on a server
// with the default parameters too.
var CheapParams = account.PasswordParams{Memory: 64, Time: 1, Threads: 1}

// Clock is a settable clock for account.Options.Now.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at the current time, in UTC, whole seconds.
func NewClock() *Clock { return &Clock{now: time.Now().UTC().Truncate(time.Second)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Options configure Start. The zero value is a server with the default
// token limit, cheap password hashing and a fresh clock.
type Options struct {
	MaxTokens int
	// Params are the argon2id costs; zero means CheapParams.
	Params account.PasswordParams
	// DefaultParams selects account.DefaultPasswordParams instead.
	DefaultParams bool
	Clock         *Clock
	// Log receives the server's log (debug level); nil keeps it in memory
	// and prints it if the test fails.
	Log io.Writer
	// TrustedProxies lets tests choose the client IP with X-Forwarded-For
	// (use []string{"127.0.0.1"}).
	TrustedProxies []string
	// Dir is the data directory; empty means a new temporary one.
	Dir string
	// Configure, if set, changes the configuration before it is
	// validated (LDAP settings, docker_login …).
	Configure func(*config.Config)
	// WrapStore, if set, puts a store of the test's between the account
	// service and the bbolt store, to inject faults (a full disk, say).
	// The server is then assembled here rather than by app.OpenCore, so
	// without the LDAP settings of Configure.
	WrapStore func(model.Store) model.Store
	// Wrap, if set, goes around the HTTP handler: a check of every
	// request and response (server/api validates them against
	// docs/openapi.yaml). Nil: DefaultWrap.
	Wrap func(testing.TB, http.Handler) http.Handler
}

// DefaultWrap is Options.Wrap for every server of a test binary that sets
// it (in TestMain) and whose options name none.
var DefaultWrap func(testing.TB, http.Handler) http.Handler

// Server is a running public handler over a real bbolt file.
type Server struct {
	t      testing.TB
	opts   Options
	Dir    string
	Config config.Config
	Core   *app.Core
	HTTP   *httptest.Server
	URL    string
	Clock  *Clock
	Log    *testutil.LockedBuffer // the captured log when Options.Log was nil

	closeOnce sync.Once
	closeErr  error
}

// Start opens the data directory with app.OpenCore and serves
// app.PublicHandler with httptest. The server is closed when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Clock == nil {
		o.Clock = NewClock()
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "data")
	}
	params := o.Params
	switch {
	case o.DefaultParams:
		params = account.DefaultPasswordParams
	case params == (account.PasswordParams{}):
		params = CheapParams
	}
	s := &Server{t: t, opts: o, Dir: o.Dir, Clock: o.Clock}
	w := o.Log
	if w == nil {
		s.Log = &testutil.LockedBuffer{}
		w = s.Log
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("server log:\n%s", s.Log.String())
			}
		})
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))

	c := config.Defaults()
	c.Data = o.Dir
	c.TrustedProxies = o.TrustedProxies
	if o.MaxTokens > 0 {
		c.MaxTokens = o.MaxTokens
	}
	if o.Configure != nil {
		o.Configure(&c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	opts := account.Options{PasswordParams: params, Now: o.Clock.Now, Logger: log}
	var (
		core *app.Core
		err  error
	)
	if o.WrapStore != nil {
		core, err = openWrapped(c, opts, o.WrapStore)
	} else {
		core, err = app.OpenCore(c, opts)
	}
	if err != nil {
		t.Fatalf("OpenCore: %v", err)
	}
	h, err := app.PublicHandler(core, log)
	if err != nil {
		core.Close()
		t.Fatalf("PublicHandler: %v", err)
	}
	s.Config, s.Core = c, core
	if o.Wrap == nil {
		o.Wrap = DefaultWrap
	}
	if o.Wrap != nil {
		h = o.Wrap(t, h)
	}
	s.HTTP = httptest.NewServer(h)
	s.URL = s.HTTP.URL
	t.Cleanup(func() { s.Close() })
	return s
}

// openWrapped is app.OpenCore with wrap around the store.
func openWrapped(c config.Config, opts account.Options, wrap func(model.Store) model.Store) (*app.Core, error) {
	if err := app.PrepareDataDir(c.Data); err != nil {
		return nil, err
	}
	st, err := app.OpenStore(c)
	if err != nil {
		return nil, err
	}
	pepper, err := app.SharedPepper(st)
	if err != nil {
		st.Close()
		return nil, err
	}
	st = wrap(st)
	m := metrics.New()
	opts.Pepper, opts.OnAuthFailure = pepper, m.AuthFailed
	opts.MaxTokens, opts.AuditKeep, opts.FailureAuditKeep = c.MaxTokens, c.AuditKeep, c.FailureAuditKeep
	opts.LoginTokens = account.LoginTokenOptions{Max: c.MaxLoginTokens, Idle: c.LoginTokenIdle, MaxAge: c.LoginTokenMaxAge}
	accounts, err := account.New(st, opts)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &app.Core{Config: c, Store: st, Accounts: accounts, Metrics: m}, nil
}

// Close stops the HTTP server and closes the core (which flushes pending
// last-used times and closes the bbolt file). It may be called again.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.HTTP.Close()
		s.closeErr = s.Core.Close()
	})
	return s.closeErr
}

// Reopen closes the server and starts a new one on the same data directory
// with the same options.
func (s *Server) Reopen() *Server {
	s.t.Helper()
	if err := s.Close(); err != nil {
		s.t.Fatalf("closing the server: %v", err)
	}
	return Start(s.t, s.opts)
}

// DBBytes returns the bytes of the bbolt file. Close the server first so
// that everything is written.
func (s *Server) DBBytes() []byte {
	s.t.Helper()
	data, err := os.ReadFile(s.Config.DBPath())
	if err != nil {
		s.t.Fatal(err)
	}
	return data
}

// AddUser creates an account directly through the account service.
func (s *Server) AddUser(name, password string, admin bool) {
	s.t.Helper()
	if _, err := s.Core.Accounts.CreateUser(account.Actor{Name: "test-setup"}, name, password, admin, false); err != nil {
		s.t.Fatalf("creating user %s: %v", name, err)
	}
}

// CoolDown moves the clock past every throttle delay and lock.
func (s *Server) CoolDown() { s.Clock.Advance(11 * time.Minute) }

// Opt changes a request before it is sent.
type Opt func(*http.Request)

// Basic authenticates with HTTP Basic.
func Basic(user, secret string) Opt {
	return func(r *http.Request) { r.SetBasicAuth(user, secret) }
}

// PortusAuth authenticates with the Portus-Auth header (user:token).
func PortusAuth(user, token string) Opt {
	return func(r *http.Request) { r.Header.Set(apitypes.AuthHeader, user+":"+token) }
}

// FromIP sets X-Forwarded-For; it counts only with Options.TrustedProxies.
func FromIP(ip string) Opt {
	return func(r *http.Request) { r.Header.Set("X-Forwarded-For", ip) }
}

// Response is a whole HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Message returns the "message" of a JSON error body.
func (r *Response) Message() string {
	var e apitypes.Error
	_ = json.Unmarshal(r.Body, &e)
	return e.Message
}

func (r *Response) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }

// Request sends a request; body is nil, a string or []byte sent as is, or
// a value encoded as JSON. It does not touch t, so goroutines may call it.
func (s *Server) Request(method, path string, body any, opts ...Opt) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := s.HTTP.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Do is Request that fails the test on a transport error.
func (s *Server) Do(method, path string, body any, opts ...Opt) *Response {
	s.t.Helper()
	r, err := s.Request(method, path, body, opts...)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// Expect is Do that fails the test unless the status is want.
func (s *Server) Expect(want int, method, path string, body any, opts ...Opt) *Response {
	s.t.Helper()
	r := s.Do(method, path, body, opts...)
	if r.Status != want {
		s.t.Fatalf("%s %s = %s, want %d", method, path, r, want)
	}
	return r
}

// Decode decodes a JSON body into v or fails the test.
func Decode(t testing.TB, r *Response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r, err)
	}
}

// CreateToken creates a token for user over POST /api/v1/tokens with the
// password and returns the answer.
func (s *Server) CreateToken(user, password string, req apitypes.CreateTokenRequest) apitypes.CreatedToken {
	s.t.Helper()
	r := s.Expect(http.StatusCreated, http.MethodPost, apitypes.TokensPath, req, Basic(user, password))
	var created apitypes.CreatedToken
	Decode(s.t, r, &created)
	return created
}

// BuildPortus builds the portus command into dir and returns its path. It
// builds with the race detector when the tests run with it.
func BuildPortus(dir string) (string, error) {
	bin := filepath.Join(dir, "portus")
	args := []string{"build", "-o", bin}
	if RaceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/portusproject/portus/server/cmd/portus")
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}
