package testutil

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLockedBufferConcurrentWriters(t *testing.T) {
	var b LockedBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "%d", i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("the buffer holds %d bytes, want 800", n)
	}
}

func TestTail(t *testing.T) {
	var b LockedBuffer
	b.Write([]byte("0123456789"))
	if got := b.Tail(4); got != "…6789" {
		t.Errorf("Tail(4) = %q", got)
	}
	if got := b.Tail(20); got != "0123456789" {
		t.Errorf("Tail(20) = %q", got)
	}
}

func TestFreePortsAreDistinctAndBindable(t *testing.T) {
	ports, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d given twice: %v", p, ports)
		}
		seen[p] = true
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", Port(t)))
	if err != nil {
		t.Fatalf("binding a free port: %v", err)
	}
	l.Close()
}

func TestProcessStopAndOutput(t *testing.T) {
	out := &LockedBuffer{}
	// The shell says it is ready, then waits for SIGTERM and says so.
	cmd := exec.Command("sh", "-c", `trap 'echo stopping; exit 3' TERM; echo ready; while :; do sleep 0.01; done`)
	p, err := Start(cmd, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(5*time.Second, func() bool { return strings.Contains(out.String(), "ready") }); err != nil {
		t.Fatalf("waiting for the shell: %v\n%s", err, out)
	}
	if p.Exited() || p.ExitCode() != -1 {
		t.Fatal("a running process counts as exited")
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "stopping") || p.ExitCode() != 3 {
		t.Fatalf("SIGTERM not delivered: exit %d, output %q", p.ExitCode(), out)
	}
	if err := p.Stop(time.Second); err != nil {
		t.Fatalf("stopping an exited process: %v", err)
	}
}

func TestProcessStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	out := &LockedBuffer{}
	p, err := Start(exec.Command("sh", "-c", `trap '' TERM; echo ready; while :; do sleep 0.01; done`), out)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(5*time.Second, func() bool { return strings.Contains(out.String(), "ready") }); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Stop of a process ignoring SIGTERM: %v", err)
	}
	if !p.Exited() {
		t.Fatal("the process still runs after Stop")
	}
}

func TestWaitReadyFailures(t *testing.T) {
	p, err := Start(exec.Command("true"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(5*time.Second, func() bool { return false }); !errors.Is(err, ErrExited) {
		t.Errorf("waiting on an exited process: %v, want ErrExited", err)
	}
	if err := WaitReady(nil, 50*time.Millisecond, func() bool { return false }); !errors.Is(err, ErrTimeout) {
		t.Errorf("waiting without a process: %v, want ErrTimeout", err)
	}
	if _, err := Start(exec.Command("/nonexistent/binary"), nil); err == nil {
		t.Error("starting a missing binary succeeded")
	}
}

func TestProcessKill(t *testing.T) {
	p, err := Start(exec.Command("sleep", "60"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if !p.Exited() {
		t.Fatal("Kill returned before the process was gone")
	}
	p.Kill() // a second Kill is harmless
}

const token = "ptk_0123456789abcdefghijklmnopqrstuvwxyzAB"

func TestLeaks(t *testing.T) {
	if !Leaks("user alice, password hunter2", "", "hunter2") {
		t.Error("a quoted secret is not found")
	}
	if Leaks("nothing here", "", "hunter2") {
		t.Error("an empty secret or an absent one counts as a leak")
	}
	if !LeaksPart("… ter …", "hunter2", 3) || LeaksPart("… hu …", "hunter2", 3) {
		t.Error("LeaksPart misjudges three-byte pieces")
	}
}

func TestRedactTokens(t *testing.T) {
	got := RedactTokens("a " + token + " b " + token)
	if strings.Contains(got, token[4:]) || strings.Count(got, "ptk_[redacted]") != 2 {
		t.Fatalf("RedactTokens = %q", got)
	}
	if got := RedactTokens("ptk_short"); got != "ptk_short" {
		t.Errorf("a token prefix alone changed: %q", got)
	}
}

// recorder is the part of testing.TB that NoSecret uses, to see its verdict.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func TestNoSecret(t *testing.T) {
	r := &recorder{TB: t}
	NoSecret(r, "login", "all fine", "hunter2")
	if len(r.msgs) != 0 {
		t.Fatalf("clean output flagged: %q", r.msgs)
	}
	NoSecret(r, "login", "said hunter2 and "+token, "hunter2")
	if len(r.msgs) != 2 {
		t.Fatalf("want two failures, got %q", r.msgs)
	}
	for _, m := range r.msgs {
		if strings.Contains(m, "hunter2") || strings.Contains(m, token) {
			t.Errorf("the failure message quotes the secret: %q", m)
		}
	}
}

func TestCheckRun(t *testing.T) {
	ok := Run{Name: "store", Stdout: "refused: the keyring is locked", Elapsed: time.Second}
	r := &recorder{TB: t}
	CheckRun(r, ok, 0, "stdout", 2*time.Second, []string{"hunter2"}, "refused", "locked")
	if len(r.msgs) != 0 {
		t.Fatalf("a run as expected fails: %q", r.msgs)
	}
	bad := Run{Name: "store", Stdout: "hunter2", Stderr: "noise " + token, Code: 1, Elapsed: 3 * time.Second}
	CheckRun(r, bad, 0, "stdout", 2*time.Second, []string{"hunter2"}, "refused")
	// exit status, lacks "refused", other stream, too slow, the password, the token
	if len(r.msgs) != 6 {
		t.Fatalf("want six failures, got %d: %q", len(r.msgs), r.msgs)
	}
	if s := bad.String(); strings.Contains(s, token) {
		t.Errorf("Run.String shows the token: %s", s)
	}
}

func TestAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer srv.Close()
	if !Answers(srv.URL, http.StatusTeapot) || Answers(srv.URL, http.StatusOK) {
		t.Error("Answers misreads the status")
	}
	if Answers(fmt.Sprintf("http://127.0.0.1:%d/", Port(t)), http.StatusOK) {
		t.Error("a closed port answers")
	}
}
