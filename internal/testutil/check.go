package testutil

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/portusproject/portus/shared/apptoken"
)

var tokenPattern = regexp.MustCompile(apptoken.Pattern)

// Leaks reports whether out holds any of secrets (empty ones are skipped).
func Leaks(out string, secrets ...string) bool {
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// LeaksPart reports whether out holds any n-byte piece of secret: a message
// that quotes part of a password leaks it too.
func LeaksPart(out, secret string, n int) bool {
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(out, secret[i:i+n]) {
			return true
		}
	}
	return false
}

// NoSecret marks t failed when out, the output of what, holds one of
// secrets or an application token. The message names what, never the
// secret; the output it shows has the secrets and tokens replaced.
func NoSecret(t testing.TB, what, out string, secrets ...string) {
	t.Helper()
	if Leaks(out, secrets...) {
		t.Errorf("%s: a secret is in the output", what)
	}
	if tokenPattern.MatchString(out) {
		for _, s := range secrets {
			if s != "" {
				out = strings.ReplaceAll(out, s, "[secret]")
			}
		}
		t.Errorf("%s: an application token is in the output:\n%s", what, RedactTokens(out))
	}
}

// RedactTokens replaces the secret part of every application token in s,
// so that a failing test can show output that holds one.
func RedactTokens(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, apptoken.Prefix)
		if i < 0 || len(s) < i+apptoken.Len {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i] + apptoken.Prefix + "[redacted]")
		s = s[i+apptoken.Len:]
	}
}

// GeneratedFileCurrent fails t unless the file at path holds want, the
// output of a generator: it names the first differing line and how to
// regenerate the file, so a stale generated document says what to do.
func GeneratedFileCurrent(t testing.TB, path, want, regenerate string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v (create it: %s)", path, err, regenerate)
	}
	gl, wl := strings.Split(string(data), "\n"), strings.Split(want, "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs from its generator at line %d:\n  file:      %q\n  generated: %q\nregenerate it: %s", path, i+1, g, w, regenerate)
		}
	}
}
