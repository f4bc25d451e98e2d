package cli_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

// waitFor waits (at most 10 s) until the server's log contains s.
func (s *server) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.log.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q within 10 s", text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSIGTERMFinishesInFlight: a request whose body is still arriving when
// SIGTERM comes is completed; new connections are refused; exit 0.
func TestSIGTERMFinishesInFlight(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	const pw = "alice-password-1"
	ok(t, pw+"\n", "user", "create", "alice", "--password-stdin", "--data", data)
	s := serve(t, data)
	host := strings.TrimPrefix(s.url, "http://")

	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := `{"name":"in-flight"}`
	fmt.Fprintf(conn, "POST /api/v1/tokens HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		host, base64.StdEncoding.EncodeToString([]byte("alice:"+pw)), len(body))
	br := bufio.NewReader(conn)
	// The server answers 100 Continue once the handler reads the body: the
	// request is in flight.
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("want 100 Continue, got %q, %v", line, err)
	}
	br.ReadString('\n') // the blank line after the interim response

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "shutting down")
	// The listener closes (the log line comes just before): new
	// connections are refused within 5 s.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections still accepted 5 s after SIGTERM")
		}
	}

	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the in-flight response: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("in-flight request: %d, want 201", resp.StatusCode)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("portus serve still running 10 s after SIGTERM")
	}
	if s.err != nil {
		t.Errorf("portus serve after SIGTERM: %v, want exit 0", s.err)
	}
	if list := listTokens(t, data, "alice"); len(list) != 1 || list[0].Name != "in-flight" {
		t.Errorf("tokens after shutdown: %+v", list)
	}
}

// TestPortusDataEnv: every admin command finds the data directory in
// PORTUS_DATA.
func TestPortusDataEnv(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	run := func(stdin string, args ...string) result {
		t.Helper()
		return portusEnv(t, []string{"PORTUS_DATA=" + data}, stdin, args...)
	}
	if r := run("alice-password-1\n", "user", "create", "alice", "--password-stdin"); r.code != 0 {
		t.Fatalf("user create: %+v", r)
	}
	if r := run("", "token", "create", "--user", "alice", "--name", "ci"); r.code != 0 || !tokenLine.MatchString(r.stdout) {
		t.Fatalf("token create: %+v", r)
	}
	if r := run("", "user", "list"); r.code != 0 || !strings.Contains(r.stdout, "alice") {
		t.Errorf("user list: %+v", r)
	}
	if r := run("", "token", "list", "--user", "alice"); r.code != 0 || !strings.Contains(r.stdout, "ci") {
		t.Errorf("token list: %+v", r)
	}
	if r := run("", "user", "disable", "alice"); r.code != 0 {
		t.Errorf("user disable: %+v", r)
	}
	if !listUsers(t, data)["alice"].Disabled {
		t.Error("PORTUS_DATA did not reach the data directory")
	}
}

// heldRequest is a request whose headers have been sent and whose handler
// is running (the server answered 100 Continue), its body held back.
type heldRequest struct {
	name   string
	conn   net.Conn
	br     *bufio.Reader
	body   string
	status int // the normal answer
}

func holdRequest(t *testing.T, host, name, method, path, auth, contentType, body string, status int) *heldRequest {
	t.Helper()
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if auth != "" {
		auth = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(auth)) + "\r\n"
	}
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		method, path, host, auth, contentType, len(body))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("%s: want 100 Continue, got %q, %v", name, line, err)
	}
	br.ReadString('\n')
	return &heldRequest{name: name, conn: conn, br: br, body: body, status: status}
}

// TestSIGTERMUnderLoad: SIGTERM while several clients load the server and
// four requests are mid-way (their handlers running, bodies still
// arriving). Every request in flight ends with its normal status, the
// process exits 0, and the last-used times of every token used — those
// used only by the requests that finished after SIGTERM included — are in
// the database when it starts again.
func TestSIGTERMUnderLoad(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	const pw = "alice-password-1"
	ok(t, pw+"\n", "user", "create", "alice", "--password-stdin", "--data", data)
	loadTokens := []string{createToken(t, data, "alice", "load-0"), createToken(t, data, "alice", "load-1"), createToken(t, data, "alice", "load-2")}
	lateTokens := []string{createToken(t, data, "alice", "late-0"), createToken(t, data, "alice", "late-1")}
	// The default flush interval (60 s) never comes: only the shutdown
	// writes last-used times.
	s := serve(t, data, "--max-tokens", "10")
	host := strings.TrimPrefix(s.url, "http://")

	// Load: clients fetching registry JWTs with their tokens, each on its
	// own connections, until the server goes away.
	var (
		wg        sync.WaitGroup
		sigterm   atomic.Bool
		served    atomic.Int64
		warmedUp  = make(chan struct{}, len(loadTokens))
		loadErrMu sync.Mutex
		loadErrs  []string
	)
	for i, tok := range loadTokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for n := 0; n < 100000; n++ {
				req, _ := http.NewRequest(http.MethodGet, s.url+"/v2/token?service=registry&scope=repository:alice/app:pull", nil)
				req.SetBasicAuth("alice", tok)
				resp, err := client.Do(req)
				if err != nil {
					if !sigterm.Load() {
						loadErrMu.Lock()
						loadErrs = append(loadErrs, fmt.Sprintf("client %d before SIGTERM: %v", i, err))
						loadErrMu.Unlock()
					}
					return // the listener is closed: refused, as it should be
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					loadErrMu.Lock()
					loadErrs = append(loadErrs, fmt.Sprintf("client %d (SIGTERM sent: %v): status %d", i, sigterm.Load(), resp.StatusCode))
					loadErrMu.Unlock()
					return
				}
				if served.Add(1); n == 5 {
					warmedUp <- struct{}{}
				}
			}
		}()
	}
	for range loadTokens {
		select {
		case <-warmedUp:
		case <-time.After(30 * time.Second):
			t.Fatal("the load clients got no answers within 30 s")
		}
	}

	// Four requests in flight: two token creations with the password, two
	// containerd-style OAuth token requests with tokens used nowhere else.
	form := func(tok string) string {
		return "grant_type=password&service=registry&client_id=containerd&username=alice&password=" + tok
	}
	held := []*heldRequest{
		holdRequest(t, host, "create held-0", "POST", "/api/v1/tokens", "alice:"+pw, "application/json", `{"name":"held-0"}`, http.StatusCreated),
		holdRequest(t, host, "create held-1", "POST", "/api/v1/tokens", "alice:"+pw, "application/json", `{"name":"held-1"}`, http.StatusCreated),
		holdRequest(t, host, "OAuth late-0", "POST", "/v2/token", "", "application/x-www-form-urlencoded", form(lateTokens[0]), http.StatusOK),
		holdRequest(t, host, "OAuth late-1", "POST", "/v2/token", "", "application/x-www-form-urlencoded", form(lateTokens[1]), http.StatusOK),
	}

	before := served.Load()
	sigterm.Store(true)
	termAt := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "shutting down")
	for _, h := range held {
		if _, err := io.WriteString(h.conn, h.body); err != nil {
			t.Fatalf("%s: sending the body after SIGTERM: %v", h.name, err)
		}
	}
	for _, h := range held {
		resp, err := http.ReadResponse(h.br, nil)
		if err != nil {
			t.Errorf("%s: reading the answer after SIGTERM: %v", h.name, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != h.status {
			t.Errorf("%s: %d %s after SIGTERM, want %d", h.name, resp.StatusCode, body, h.status)
		}
	}
	wg.Wait()
	for _, e := range loadErrs {
		t.Error(e)
	}
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("portus serve still running 15 s after SIGTERM")
	}
	if s.err != nil {
		t.Errorf("portus serve after SIGTERM: %v, want exit 0", s.err)
	}
	t.Logf("%d registry tokens served under load (%d after SIGTERM was sent), 4 requests in flight at SIGTERM", served.Load(), served.Load()-before)

	// Started again, the server shows every use, the late ones included.
	s = serve(t, data, "--max-tokens", "10")
	code, body := s.get(t, "/api/v1/tokens", "alice", pw)
	if code != http.StatusOK {
		t.Fatalf("listing tokens after the restart: %d %s", code, body)
	}
	var list []apitypes.Token
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]apitypes.Token{}
	for _, tok := range list {
		byName[tok.Name] = tok
	}
	for _, name := range []string{"load-0", "load-1", "load-2", "late-0", "late-1"} {
		if byName[name].LastUsedAt == nil {
			t.Errorf("%s: no last-used time after SIGTERM and restart (the batch was not flushed)", name)
		}
	}
	for _, name := range []string{"late-0", "late-1"} {
		if at := byName[name].LastUsedAt; at != nil && at.Before(termAt.Add(-time.Second)) {
			t.Errorf("%s: last used %s, before SIGTERM (%s), but it was used only after", name, at, termAt)
		}
	}
	for _, name := range []string{"held-0", "held-1"} {
		if _, found := byName[name]; !found {
			t.Errorf("%s, created in flight at SIGTERM, is missing after the restart", name)
		}
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d after the second SIGTERM", code)
	}
}
