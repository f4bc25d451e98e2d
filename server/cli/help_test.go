package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpListsEveryVerb: the help is generated from the command table, so
// every command and every verb of a resource appears in it, with the
// verb's synopsis.
func TestHelpListsEveryVerb(t *testing.T) {
	help := func(args ...string) (string, int) {
		var stdout, stderr bytes.Buffer
		code := Main(Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}, args)
		if stdout.Len() != 0 {
			t.Errorf("portus %v printed help on stdout: %q", args, stdout.String())
		}
		return stderr.String(), code
	}
	top, code := help("--help")
	if code != 0 {
		t.Errorf("portus --help: exit %d, want 0", code)
	}
	for _, c := range commands {
		if !strings.Contains(top, "  "+c.name+" ") {
			t.Errorf("portus --help does not list %s:\n%s", c.name, top)
		}
		if len(c.verbs) == 0 {
			continue
		}
		group, code := help(c.name)
		if code != 2 {
			t.Errorf("portus %s: exit %d, want 2", c.name, code)
		}
		for _, v := range c.verbs {
			if !strings.Contains(top, v.name) {
				t.Errorf("portus --help does not name %s %s", c.name, v.name)
			}
			synopsis := strings.TrimSpace("portus " + c.name + " " + v.name + " " + v.args)
			if !strings.Contains(group, synopsis+"\n") || !strings.Contains(group, v.summary) {
				t.Errorf("portus %s does not list %q (%s):\n%s", c.name, synopsis, v.summary, group)
			}
			if out, code := help(c.name, v.name, "-h"); code != 2 || !strings.Contains(out, "Usage: "+synopsis+"\n") {
				t.Errorf("portus %s %s -h: exit %d, want 2 and the usage %q:\n%s", c.name, v.name, code, synopsis, out)
			}
		}
	}
	for _, verb := range []string{"unlock", "set-docker-login", "set-password"} {
		if !strings.Contains(top, verb) {
			t.Errorf("portus --help omits user %s", verb)
		}
	}
}
