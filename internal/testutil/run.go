package testutil

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Run is one finished run of a command, as the output checks see it.
type Run struct {
	Name           string // what ran, for the messages (a helper action, "docker login")
	Stdout, Stderr string
	Code           int
	Elapsed        time.Duration
}

// String shows the run with its tokens redacted, for the test log.
func (r Run) String() string {
	return fmt.Sprintf("%s: exit %d after %s\nstdout: %q\nstderr: %q", r.Name, r.Code, r.Elapsed.Round(time.Millisecond),
		RedactTokens(r.Stdout), RedactTokens(r.Stderr))
}

// CheckRun marks t failed unless the run exited with code, its message is
// on stream ("stdout" or "stderr") and holds every want, the other stream
// is empty, it took at most limit, and neither stream holds one of secrets
// or an application token (NoSecret).
func CheckRun(t testing.TB, r Run, code int, stream string, limit time.Duration, secrets []string, want ...string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("%s: exit status %d, want %d", r.Name, r.Code, code)
	}
	msg, other := r.Stdout, r.Stderr
	if stream == "stderr" {
		msg, other = r.Stderr, r.Stdout
	}
	for _, s := range want {
		if !strings.Contains(msg, s) {
			t.Errorf("%s: %s lacks %q", r.Name, stream, s)
		}
	}
	if other != "" {
		t.Errorf("%s: the other stream is not empty: %q", r.Name, RedactTokens(other))
	}
	if r.Elapsed > limit {
		t.Errorf("%s took %s, want at most %s", r.Name, r.Elapsed, limit)
	}
	NoSecret(t, r.Name, r.Stdout, secrets...)
	NoSecret(t, r.Name, r.Stderr, secrets...)
}
