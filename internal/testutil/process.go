package testutil

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// pollInterval is how often WaitReady asks whether a process is ready:
// short, since the servers under test start in milliseconds.
const pollInterval = 20 * time.Millisecond

// Process is a started child process. Its zero value is not usable; Start
// makes one.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{}
}

// Start starts cmd and watches for its exit. When out is not nil it
// receives the process's stdout and stderr (give a *LockedBuffer to read
// them while the process runs); otherwise cmd's own settings stand.
func Start(cmd *exec.Cmd, out io.Writer) (*Process, error) {
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// Done is closed once the process has exited and its output is copied.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// PID is the process's id (also after it exited).
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// ExitCode is the exit code once the process has exited, -1 before or when
// a signal ended it.
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.Cmd.ProcessState.ExitCode()
}

// WaitReady polls ready until it is true; it fails when the process exits
// or timeout passes first.
func (p *Process) WaitReady(timeout time.Duration, ready func() bool) error {
	return WaitReady(p.done, timeout, ready)
}

// ErrExited and ErrTimeout are WaitReady's failures.
var (
	ErrExited  = errors.New("the process exited")
	ErrTimeout = errors.New("timed out")
)

// WaitReady polls ready until it is true. It returns ErrExited when exited
// is closed first (nil waits on no process), ErrTimeout when timeout passes.
func WaitReady(exited <-chan struct{}, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ready() {
			return nil
		}
		select {
		case <-exited:
			return ErrExited
		case <-time.After(pollInterval):
		}
	}
	return ErrTimeout
}

// Stop asks the process to shut down with SIGTERM and waits up to grace for
// it to exit; then it kills it, and says so in the error. A process that had
// already exited is left alone.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed it", filepath.Base(p.Cmd.Path), grace)
	}
}

// Kill sends SIGKILL to the process's PID, as a crash would end it, and
// waits until it is gone.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	// os.Process.Kill is SIGKILL on Unix (and builds for Windows, where
	// the helper's tests are vetted too).
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Signal sends sig to the running process.
func (p *Process) Signal(sig syscall.Signal) error {
	if err := p.Cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signalling %s: %w", filepath.Base(p.Cmd.Path), err)
	}
	return nil
}

// Answers reports whether a GET of url is answered with status: the usual
// readiness probe of a server given to WaitReady.
func Answers(url string, status int) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == status
}
