package credhelper_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/portusproject/portus/helper/credhelper"
)

// usageLines are the commands the usage lists, without "Usage:".
func usageLines(t *testing.T) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(credhelper.Usage()), "\n") {
		lines = append(lines, strings.TrimSpace(strings.TrimPrefix(l, "Usage:")))
	}
	return lines
}

// TestUsage: without arguments (exit 1, as docker-credential-helpers
// does) and when asked for help (exit 0) the helper lists the protocol's
// actions and the commands for people.
func TestUsage(t *testing.T) {
	want := []string{
		"docker-credential-portus <store|get|erase|list|version>",
		"docker-credential-portus login REGISTRY [--scope pull|push|delete] [--no-browser]",
		"docker-credential-portus logout REGISTRY",
	}
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{credhelper.Name}, 1},
		{[]string{credhelper.Name, "get", "extra"}, 1},
		{[]string{credhelper.Name, "-h"}, 0},
		{[]string{credhelper.Name, "--help"}, 0},
		{[]string{credhelper.Name, "help"}, 0},
	} {
		var out bytes.Buffer
		code := credhelper.Serve(e.helper(), tc.args, strings.NewReader(""), &out)
		if code != tc.code || !strings.HasPrefix(out.String(), "Usage: ") {
			t.Errorf("%v: exit %d, output %q; want exit %d and the usage", tc.args, code, out.String(), tc.code)
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: the usage lacks %q:\n%s", tc.args, w, out.String())
			}
		}
	}
	if got := usageLines(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("usage lines %q, want %q", got, want)
	}
}

// TestUsageIsDocumented: docs/device-login.md shows each usage line as the
// helper prints it.
func TestUsageIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/device-login.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), credhelper.Usage()) {
		t.Errorf("docs/device-login.md does not show the usage exactly as printed:\n%s", credhelper.Usage())
	}
	for _, l := range usageLines(t) {
		if !strings.Contains(string(doc), l) {
			t.Errorf("docs/device-login.md lacks the usage line %q", l)
		}
	}
}
