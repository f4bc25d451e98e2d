package main_test

// Faults of the peers and of the input, through the built binary: each
// ends within its timeout with a clear message (on stdout, where docker
// reads the protocol's errors, or on stderr for warnings), the right exit
// status, and no secret printed.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apptoken"
)

// faultTimeout is the http_timeout of the fault tests, and faultMargin what
// a run may take beyond it: starting the process, reading the
// configuration, the keyring file.
const (
	faultTimeout = time.Second
	faultMargin  = 3 * time.Second
)

// timed runs the helper and measures how long it took.
func (w *world) timed(t *testing.T, action, stdin string) testutil.Run {
	t.Helper()
	start := time.Now()
	stdout, stderr, code := w.run(t, action, stdin)
	r := testutil.Run{Name: action, Stdout: stdout, Stderr: stderr, Code: code, Elapsed: time.Since(start)}
	t.Log(r)
	return r
}

// configure writes the helper's configuration file with a short
// http_timeout and the given registries.
func (w *world) configure(t *testing.T, registries map[string]any) string {
	t.Helper()
	path := w.env["PORTUS_HELPER_CONFIG"]
	b, err := json.Marshal(map[string]any{"http_timeout": faultTimeout.String(), "keyring_timeout": "2s", "registries": registries})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func storeInput(server, user, secret string) string {
	b, _ := json.Marshal(map[string]string{"ServerURL": server, "Username": user, "Secret": secret})
	return string(b)
}

// expect checks a run's exit status, that its message is on the given
// stream and holds every want, that the other stream is empty, that it
// ended within limit, and that neither stream holds a password or token.
func expect(t *testing.T, r testutil.Run, code int, stream string, limit time.Duration, want ...string) {
	t.Helper()
	testutil.CheckRun(t, r, code, stream, limit, []string{password, oddPassword}, want...)
}

// noSecret fails if a password, one of more or a whole application token
// is in the run's output.
func noSecret(t *testing.T, r testutil.Run, more ...string) {
	t.Helper()
	secrets := append([]string{password, oddPassword}, more...)
	testutil.NoSecret(t, r.Name, r.Stdout, secrets...)
	testutil.NoSecret(t, r.Name, r.Stderr, secrets...)
}

// mustList checks what list says is stored.
func (w *world) mustList(t *testing.T, want string) {
	t.Helper()
	r := w.timed(t, "list", "")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != want {
		t.Fatalf("list: %v; want %s", r, want)
	}
}

// TestFaultPortusHangs: a Portus server that accepts the request and never
// answers. store fails after http_timeout and says so; erase removes the
// local copy anyway, warns which token remains valid, and succeeds.
func TestFaultPortusHangs(t *testing.T) {
	w := newWorld(t)
	reg := w.portus.RegistryHost()
	cfg := w.configure(t, nil)
	if r := w.timed(t, "store", storeInput(reg, "alice", password)); r.Code != 0 {
		t.Fatalf("store before the fault: %v", r)
	}
	token := w.portus.Tokens("alice")[0].Plain
	w.portus.Fail(&fakeportus.Failure{Hang: true})

	r := w.timed(t, "store", storeInput(reg, "alice", "a new password"))
	expect(t, r, 1, "stdout", faultTimeout+faultMargin,
		"cannot get an application token for "+reg, "Portus at "+w.portus.URL(), "no answer within "+faultTimeout.String(),
		"http_timeout", cfg, "nothing was stored")
	noSecret(t, r, "a new password", token)
	if r.Elapsed < faultTimeout {
		t.Errorf("store gave up after %s, before http_timeout", r.Elapsed)
	}

	r = w.timed(t, "erase", reg+"\n")
	expect(t, r, 0, "stderr", faultTimeout+faultMargin,
		"could not revoke", "docker-credential-portus@", apptoken.Redact(token), "no answer within", "remains valid", w.portus.URL()+"/profile")
	noSecret(t, r, token)
	w.mustList(t, "{}")
}

// TestFaultRegistryHangs: the registry accepts connections and never
// answers (a stopped process: the kernel still accepts). Finding its Portus
// server ends within http_timeout, though a loopback registry is tried with
// https and then http.
func TestFaultRegistryHangs(t *testing.T) {
	w := newWorld(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() { // accept, then say nothing
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	reg := strings.Replace(l.Addr().String(), "127.0.0.1", "localhost", 1)
	cfg := w.configure(t, nil)
	r := w.timed(t, "store", storeInput(reg, "alice", password))
	expect(t, r, 1, "stdout", faultTimeout+faultMargin,
		"finding the Portus server of "+reg, "the registry at", "no answer within "+faultTimeout.String(), "http_timeout", cfg)
	w.mustList(t, "{}")
}

// TestFaultPortusFails: a Portus server that answers 5xx, whatever the
// body: a clear error, nothing stored; the server's words are shown
// cleaned, without the password or a token even when it echoes them.
func TestFaultPortusFails(t *testing.T) {
	for _, tt := range []struct {
		name    string
		failure fakeportus.Failure
		want    []string
	}{
		{"500 with a message", fakeportus.Failure{Status: 500, Message: "database is locked"},
			[]string{"HTTP 500: database is locked", "try again later"}},
		{"500 with an HTML page", fakeportus.Failure{Status: 500, Body: "<html><body><h1>Internal Server Error</h1></body></html>"},
			[]string{"(HTTP 500)", "try again later"}},
		{"502 with an empty body", fakeportus.Failure{Status: 502, Body: " "},
			[]string{"(HTTP 502)", "try again later"}},
		{"500 echoing the password", fakeportus.Failure{Status: 500, Message: "cannot check password " + password + " for alice"},
			[]string{"HTTP 500: cannot check password [secret] for alice", "try again later"}},
		{"503 echoing a token", fakeportus.Failure{Status: 503, Body: "token ptk_" + strings.Repeat("a", 38) + " not ready"},
			[]string{"HTTP 503: token " + apptoken.Redact("ptk_"+strings.Repeat("a", 38)) + " not ready", "try again later"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			reg := w.portus.RegistryHost()
			w.configure(t, nil)
			w.portus.Fail(&tt.failure)
			r := w.timed(t, "store", storeInput(reg, "alice", password))
			expect(t, r, 1, "stdout", faultTimeout+faultMargin,
				append([]string{"cannot get an application token for " + reg, "Portus at " + w.portus.URL() + " failed", "nothing was stored"}, tt.want...)...)
			w.mustList(t, "{}")
		})
	}
}

// TestFaultPortusGarbage: a server that answers success with something
// that is not a token. Nothing is stored, and the message says the server
// may not be a Portus server and where its address came from.
func TestFaultPortusGarbage(t *testing.T) {
	valid, _ := apptoken.New()
	for _, tt := range []struct {
		name   string
		status int
		body   string
	}{
		{"not JSON", 201, "hello, I am not Portus"},
		{"truncated JSON", 201, `{"id":"1","name":"docker-credential-portus@x","token":"` + valid},
		{"wrong types", 201, `{"id":1,"token":42}`},
		{"no token", 201, `{"id":"1","name":"x"}`},
		{"not a token", 200, `{"id":"1","token":"hunter2"}`},
		{"HTML page", 200, "<!doctype html><title>Welcome to nginx!</title>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			reg := w.portus.RegistryHost()
			cfg := w.configure(t, nil)
			w.portus.Fail(&fakeportus.Failure{Status: tt.status, Body: tt.body})
			r := w.timed(t, "store", storeInput(reg, "alice", password))
			expect(t, r, 1, "stdout", faultTimeout+faultMargin,
				"cannot get an application token for "+reg, "unexpected answer from Portus at "+w.portus.URL(),
				"not a Portus server", `"portus"`, cfg, "nothing was stored")
			noSecret(t, r, valid, "hunter2")
			w.mustList(t, "{}")
		})
	}
}

// TestFaultTLSUntrusted: Portus over TLS with a certificate the helper does
// not trust. store fails at once, says it is a certificate problem and how
// to trust the certificate authority with ca_file; with ca_file it works.
func TestFaultTLSUntrusted(t *testing.T) {
	s := fakeportus.New(t, fakeportus.Options{TLS: true})
	s.AddUser("alice", password)
	w := newWorld(t)
	w.portus = s
	reg := s.RegistryHost()

	// Configured, and found through the registry's realm.
	cfg := w.configure(t, map[string]any{reg: map[string]any{"portus": s.URL()}})
	r := w.timed(t, "store", storeInput(reg, "alice", password))
	want := []string{"cannot get an application token for " + reg, "TLS connection to Portus at " + s.URL() + " failed",
		"certificate", "ca_file", cfg, "nothing was stored"}
	expect(t, r, 1, "stdout", faultTimeout+faultMargin, want...)

	w.configure(t, nil)
	r = w.timed(t, "store", storeInput(reg, "alice", password))
	if !strings.Contains(r.Stderr, "sending your password to "+strings.TrimPrefix(s.URL(), "https://")) {
		t.Errorf("the realm on another host is not announced: %q", r.Stderr)
	}
	r.Stderr = ""
	expect(t, r, 1, "stdout", faultTimeout+faultMargin, want...)
	if n, _, _ := s.Counts(); n != 0 {
		t.Fatalf("%d requests reached the untrusted server's API", n)
	}
	w.mustList(t, "{}")

	ca := s.CAFile(t, filepath.Dir(cfg))
	w.configure(t, map[string]any{reg: map[string]any{"ca_file": filepath.Base(ca)}})
	if r := w.timed(t, "store", storeInput(reg, "alice", password)); r.Code != 0 || r.Stdout != "" {
		t.Fatalf("store with ca_file: %v", r)
	}
	w.mustList(t, fmt.Sprintf(`{%q:"alice"}`, reg))
}

// oddPassword has no substring of three characters that a message would
// hold by chance: a message that quotes any part of it leaks it.
const oddPassword = "Xq9#Zk2$Wv7!"

// TestFaultStdinTooLarge: docker sends an address or a small JSON object.
// More than 64 KiB on stdin is refused at once with a message saying so,
// before anything reaches the keyring or a server.
func TestFaultStdinTooLarge(t *testing.T) {
	w := newWorld(t)
	reg := w.portus.RegistryHost()
	w.configure(t, nil)
	big := strings.Repeat(oddPassword, 70<<10/len(oddPassword))
	for _, tt := range []struct{ action, stdin string }{
		{"store", storeInput(reg, "alice", big)},                                      // one line
		{"store", strings.Repeat(" \n", 40<<10) + storeInput(reg, "alice", password)}, // many lines
		{"store", storeInput(reg, "alice", password) + strings.Repeat(" ", 70<<10)},   // after the object
		{"get", strings.Repeat("a", 70<<10)},
		{"get", strings.Repeat("\n", 70<<10) + reg},
		{"erase", strings.Repeat("a", 70<<10)},
	} {
		r := w.timed(t, tt.action, tt.stdin)
		expect(t, r, 1, "stdout", faultMargin, "more than 64 KiB on stdin", "docker sends")
		if testutil.LeaksPart(r.Stdout+r.Stderr, oddPassword, 3) {
			t.Errorf("%s: part of the secret is in the output", tt.action)
		}
	}
	if n, _, _ := w.portus.Counts(); n != 0 || w.portus.Probes() != 0 {
		t.Fatalf("oversized input reached the servers: %d API requests, %d registry probes", n, w.portus.Probes())
	}
	w.mustList(t, "{}")

	// Just under the limit is read as usual.
	r := w.timed(t, "get", strings.Repeat(" ", 60<<10)+reg+"\n")
	expect(t, r, 1, "stdout", faultMargin, "credentials not found in native keychain")
}

// TestFaultTruncatedJSON: store's input cut short or malformed. The message
// says what is wrong and what docker sends, without quoting the input.
func TestFaultTruncatedJSON(t *testing.T) {
	w := newWorld(t)
	reg := w.portus.RegistryHost()
	w.configure(t, nil)
	whole := storeInput(reg, "alice", oddPassword)
	for _, tt := range []struct{ name, stdin, want string }{
		{"cut in the secret", whole[:len(whole)-6], "ends before the JSON object is complete"},
		{"cut after a comma", whole[:strings.Index(whole, `,"Username"`)+1], "ends before the JSON object is complete"},
		{"secret unquoted", `{"ServerURL":"` + reg + `","Username":"alice","Secret":` + oddPassword + `}`, "not valid JSON at byte"},
		{"secret not a string", `{"ServerURL":"` + reg + `","Username":"alice","Secret":97}`, `"Secret" is not a string`},
		{"not an object", `["` + oddPassword + `"]`, "not a JSON object"},
		{"empty", "", "no credentials on stdin"},
		{"blank", " \n\n", "no credentials on stdin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := w.timed(t, "store", tt.stdin)
			expect(t, r, 1, "stdout", faultMargin, tt.want, `{"ServerURL"`, "docker sends")
			if testutil.LeaksPart(r.Stdout+r.Stderr, oddPassword, 3) {
				t.Error("part of the secret is in the output")
			}
		})
	}
	if n, _, _ := w.portus.Counts(); n != 0 || w.portus.Probes() != 0 {
		t.Fatalf("malformed input reached the servers: %d API requests, %d registry probes", n, w.portus.Probes())
	}
	w.mustList(t, "{}")
}
