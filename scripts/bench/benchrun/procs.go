package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portusproject/portus/internal/testutil"
)

// children are the processes this run started; cleanup ends those still
// running, by their own pid.
var (
	childMu  sync.Mutex
	children = map[*exec.Cmd]struct{}{}
)

func track(c *exec.Cmd)   { childMu.Lock(); children[c] = struct{}{}; childMu.Unlock() }
func untrack(c *exec.Cmd) { childMu.Lock(); delete(children, c); childMu.Unlock() }

func cleanup() {
	childMu.Lock()
	defer childMu.Unlock()
	for c := range children {
		if c.Process != nil {
			c.Process.Kill()
		}
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// server is a running `portus serve` (or the profiling variant).
type server struct {
	URL  string
	Data string
	Log  string
	proc *testutil.Process
}

// startServer runs exe serve --data data --listen localhost:PORT --url
// http://localhost:PORT plus extra, with its output in logFile, and waits
// for /healthz.
func startServer(exe, data, logFile string, env []string, extra ...string) (*server, error) {
	port, err := testutil.FreePort()
	if err != nil {
		return nil, err
	}
	s := &server{URL: fmt.Sprintf("http://localhost:%d", port), Data: data, Log: logFile}
	args := append([]string{"serve", "--data", data, "--listen", fmt.Sprintf("localhost:%d", port), "--url", s.URL}, extra...)
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	s.proc, err = testutil.Start(cmd, lf)
	if err != nil {
		lf.Close()
		return nil, err
	}
	track(cmd)
	go func() { <-s.proc.Done(); lf.Close(); untrack(cmd) }()
	err = s.proc.WaitReady(30*time.Second, func() bool { return testutil.Answers(s.URL+"/healthz", http.StatusOK) })
	if errors.Is(err, testutil.ErrExited) {
		return nil, fmt.Errorf("portus serve exited at start; its log:\n%s", tail(logFile))
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("portus serve did not answer /healthz within 30 s")
	}
	return s, nil
}

// stop asks for a graceful shutdown (SIGTERM) and waits, killing the
// server after 40 s.
func (s *server) stop() { _ = s.proc.Stop(40 * time.Second) }

func (s *server) pid() int { return s.proc.PID() }

func (s *server) signal(sig syscall.Signal) error { return s.proc.Signal(sig) }

// rss returns VmRSS and VmHWM of the server in KiB.
func (s *server) rss() (rss, hwm int) { return procRSS(s.proc.PID()) }

func procRSS(pid int) (rss, hwm int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

func tail(name string) string {
	data, _ := os.ReadFile(name)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// run runs a command and returns its stdout; stderr goes into the error.
func run(env []string, stdin string, exe string, args ...string) (string, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return "", err
	}
	track(cmd)
	err := cmd.Wait()
	untrack(cmd)
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v\n%s%s", filepath.Base(exe), strings.Join(args, " "), err, errb.String(), out.String())
	}
	return out.String(), nil
}

// runJSON runs a command whose stdout is one JSON object and decodes it.
func runJSON(v any, env []string, exe string, args ...string) error {
	out, err := run(env, "", exe, args...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("%s %s: reading its output %q: %w", filepath.Base(exe), strings.Join(args, " "), out, err)
	}
	return nil
}

// timeRuns runs a command n times and returns the wall time of each run,
// start to exit, as a user's shell would see it. check, if not nil,
// inspects stdout.
func timeRuns(n int, env []string, stdin string, check func(stdout string) error, exe string, args ...string) ([]time.Duration, error) {
	full := append(os.Environ(), env...)
	var times []time.Duration
	for range n {
		cmd := exec.Command(exe, args...)
		cmd.Env = full
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		t0 := time.Now()
		err := cmd.Run()
		el := time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %v\n%s%s", filepath.Base(exe), strings.Join(args, " "), err, errb.String(), out.String())
		}
		if check != nil {
			if err := check(out.String()); err != nil {
				return nil, err
			}
		}
		times = append(times, el)
	}
	return times, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

var errSkip = errors.New("skipped")
