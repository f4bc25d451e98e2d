package cli_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
