// Package fakeportus is an in-memory stand-in for a Portus server and a
// Docker registry that delegates to it, for the helper's tests. It speaks
// just what the helper uses:
//
//   - POST /api/v1/tokens (Basic username:password): 201 apitypes.CreatedToken;
//     401 "authentication failed"; 422 at the token limit; 400 without a
//     name or with one that breaks the server's rule (1 to 64 printable
//     characters).
//     Replace revokes the caller's token of the same name first.
//   - DELETE /api/v1/tokens/current (Basic username:token, or
//     "Authorization: Bearer token" as for an identity token): 204, or 401
//     for an unknown or revoked token.
//   - POST /api/v1/tokens/current/rotate (Basic username:token, or Bearer): 201 the
//     same token with a new secret (rotate.go).
//   - the registry's GET /v2/: 401 with
//     WWW-Authenticate: Bearer realm="<portus>/v2/token",service="registry".
//
// Both listen on loopback and are named "localhost", as in the end-to-end
// tests (Portus over TLS excepted, see Server.URL). Nothing here is for production use.
package fakeportus

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// Limit is the default number of tokens per user, as on the real server.
const Limit = 5

// Token is a token the fake server holds.
type Token struct {
	ID, Name, Owner, Scope, CreatedVia, Plain string
}

// Failure is an answer the API gives instead of doing its work.
type Failure struct {
	Status     int
	Message    string
	RetryAfter string
	// Body, when not "", is sent as it is (Content-Type application/json)
	// instead of an apitypes.Error with Message: garbage for the client.
	Body string
	// Hang makes the API accept each request and never answer it, until
	// the client gives up or the test ends. Status and the rest are unused.
	Hang bool
}

// Server is a fake Portus server with a fake registry in front of it.
type Server struct {
	// Portus serves the API; Registry serves /v2/.
	Portus, Registry *httptest.Server

	tls  bool
	stop chan struct{} // closed when the test ends: hanging requests return

	mu       sync.Mutex
	limit    int
	users    map[string]string
	tokens   []Token
	nextID   int
	failure  *Failure
	creates  int
	revokes  int
	requests int
	probes   int
	device   deviceFake // the device grant (device.go)
	// rotations counts successful rotations (rotate.go).
	rotations int
	onCreate  func(n int, tok Token)
}

// Options configures New.
type Options struct {
	// TLS serves Portus over https with a test certificate (see CAFile).
	TLS bool
}

// New starts a fake Portus server and registry, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{limit: Limit, users: map[string]string{}, tls: opts.TLS, stop: make(chan struct{})}
	api := http.NewServeMux()
	api.HandleFunc("POST "+apitypes.TokensPath, s.createToken)
	api.HandleFunc("DELETE "+apitypes.CurrentTokenPath, s.revokeCurrent)
	api.HandleFunc("POST "+apitypes.CurrentTokenRotatePath, s.rotateCurrent)
	api.HandleFunc("GET "+apitypes.CallerPath, s.caller)
	api.HandleFunc("POST "+apitypes.DeviceCodePath, s.deviceCode)
	api.HandleFunc("POST "+apitypes.OAuthTokenPath, s.devicePoll)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		f := s.failure
		s.mu.Unlock()
		switch {
		case f != nil && f.Hang:
			select {
			case <-r.Context().Done():
			case <-s.stop:
			}
			return
		case f != nil && f.Body != "":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			_, _ = io.WriteString(w, f.Body)
			return
		case f != nil:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			writeJSON(w, f.Status, apitypes.Error{Message: f.Message})
			return
		}
		api.ServeHTTP(w, r)
	})
	s.Portus = httptest.NewUnstartedServer(handler)
	// Failed handshakes are what TLS tests are about: keep them off the log.
	s.Portus.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		s.Portus.StartTLS()
	} else {
		s.Portus.Start()
	}
	t.Cleanup(s.Portus.Close)
	t.Cleanup(func() { close(s.stop) }) // runs first: Close waits for hanging requests
	s.Registry = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.probes++
		s.mu.Unlock()
		if r.URL.Path != "/v2/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s%s",service="registry"`, s.URL(), apitypes.RegistryTokenPath))
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED"}}})
	}))
	t.Cleanup(s.Registry.Close)
	return s
}

// URL is the Portus base URL, on host "localhost" (on 127.0.0.1 with TLS:
// the test certificate does not name localhost).
func (s *Server) URL() string {
	if s.tls {
		return s.Portus.URL
	}
	return localhost(s.Portus.URL)
}

// RegistryHost is the registry's address, "localhost:PORT".
func (s *Server) RegistryHost() string {
	return strings.TrimPrefix(localhost(s.Registry.URL), "http://")
}

// CAFile writes the TLS server's certificate as PEM into dir and returns the
// file's path.
func (s *Server) CAFile(t testing.TB, dir string) string {
	t.Helper()
	cert := s.Portus.Certificate()
	if cert == nil {
		t.Fatal("fakeportus: CAFile needs Options.TLS")
	}
	return writeCert(t, dir, cert)
}

func writeCert(t testing.TB, dir string, cert *x509.Certificate) string {
	path := filepath.Join(dir, "portus-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// AddUser creates a user.
func (s *Server) AddUser(name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = password
}

// SetLimit changes the number of tokens a user may have.
func (s *Server) SetLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

// Fail makes every API request answer f, until Fail(nil).
func (s *Server) Fail(f *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failure = f
}

// Tokens returns the live tokens of user.
func (s *Server) Tokens(user string) []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Token
	for _, tok := range s.tokens {
		if tok.Owner == user {
			out = append(out, tok)
		}
	}
	return out
}

// IssueToken creates a token for user directly, as the web UI would.
func (s *Server) IssueToken(user, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issue(user, name, apitypes.ScopePush, apitypes.ViaWeb).Plain
}

// Counts returns how many API requests arrived, and how many created and
// revoked a token.
func (s *Server) Counts() (requests, creates, revokes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.creates, s.revokes
}

// Probes returns how many requests the registry received.
func (s *Server) Probes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probes
}

// OnCreate sets a function called after each token is created, before its
// answer is sent (so the client has not seen it yet), with the number of
// tokens created so far and the token. It runs without the server's lock:
// it may block, and other requests go on meanwhile.
func (s *Server) OnCreate(f func(n int, tok Token)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onCreate = f
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	status, body, hook, n, tok := s.create(r)
	if hook != nil {
		hook(n, tok)
	}
	writeJSON(w, status, body)
}

// validName applies the real server's rule for token names: 1 to 64
// printable characters, not all blank.
func validName(name string) bool {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 64 || strings.TrimSpace(name) == "" {
		return false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// create does the work of createToken under the server's lock and returns
// the answer, and the OnCreate hook to call for a created token.
func (s *Server) create(r *http.Request) (status int, body any, hook func(int, Token), n int, created Token) {
	user, pass, ok := r.BasicAuth()
	s.mu.Lock()
	defer s.mu.Unlock()
	if want, known := s.users[user]; !ok || !known || want != pass {
		return http.StatusUnauthorized, apitypes.Error{Message: "authentication failed"}, nil, 0, Token{}
	}
	var req apitypes.CreateTokenRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
		return http.StatusBadRequest, apitypes.Error{Message: "name: required"}, nil, 0, Token{}
	}
	if !validName(req.Name) {
		return http.StatusBadRequest, apitypes.Error{Message: "name: must be 1 to 64 printable characters"}, nil, 0, Token{}
	}
	if req.Scope == "" {
		req.Scope = apitypes.ScopePush
	}
	if req.Replace {
		s.drop(func(tok Token) bool { return tok.Owner == user && tok.Name == req.Name })
	}
	owned := 0
	for _, tok := range s.tokens {
		if tok.Owner == user {
			owned++
			if tok.Name == req.Name {
				return http.StatusUnprocessableEntity, apitypes.Error{Message: "name has already been taken"}, nil, 0, Token{}
			}
		}
	}
	if owned >= s.limit {
		return http.StatusUnprocessableEntity, apitypes.Error{
			Message: "users cannot have more than " + strconv.Itoa(s.limit) + " application tokens"}, nil, 0, Token{}
	}
	via := apitypes.ViaAPI
	if req.CreatedVia == apitypes.ViaHelper {
		via = apitypes.ViaHelper
	}
	tok := s.issue(user, req.Name, req.Scope, via)
	s.creates++
	return http.StatusCreated, apitypes.CreatedToken{
		ID: tok.ID, Name: tok.Name, Scope: tok.Scope, CreatedAt: time.Now().UTC(), Token: tok.Plain,
	}, s.onCreate, s.creates, tok
}

// issue creates a token; s.mu must be held.
func (s *Server) issue(user, name, scope, via string) Token {
	plain, err := apptoken.New()
	if err != nil {
		panic(err)
	}
	s.nextID++
	tok := Token{ID: strconv.Itoa(s.nextID), Name: name, Owner: user, Scope: scope, CreatedVia: via, Plain: plain}
	s.tokens = append(s.tokens, tok)
	return tok
}

// drop deletes the tokens matching f and reports whether there were any;
// s.mu must be held.
func (s *Server) drop(f func(Token) bool) bool {
	kept := s.tokens[:0]
	for _, tok := range s.tokens {
		if !f(tok) {
			kept = append(kept, tok)
		}
	}
	found := len(kept) != len(s.tokens)
	s.tokens = kept
	return found
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// localhost replaces 127.0.0.1 in an httptest URL with localhost.
func localhost(u string) string {
	return strings.Replace(u, "127.0.0.1", "localhost", 1)
}

// Registry starts a registry that does not delegate to Portus: its GET /v2/
// answers status with the given WWW-Authenticate header (none when "").
// It returns the registry's address, "localhost:PORT".
func Registry(t testing.TB, status int, challenge string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(localhost(srv.URL), "http://")
}

// Unreachable returns a loopback URL ("http://localhost:PORT") where
// nothing listens.
func Unreachable(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := localhost(srv.URL)
	srv.Close()
	return u
}
