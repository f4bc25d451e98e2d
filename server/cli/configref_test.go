package cli

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/config"
)

// flagLine is a flag's first line in flag.PrintDefaults' output.
var flagLine = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

func helpFlags(t *testing.T, args ...string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := Main(Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}, args); code != 2 {
		t.Fatalf("portus %v: exit %d, want 2:\n%s", args, code, stderr.String())
	}
	var names []string
	for _, m := range flagLine.FindAllStringSubmatch(stderr.String(), -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}

// TestServeHelpMatchesReference: `portus serve -h` and `portus config
// reference` (docs/configuration.md) name the same flags, since both come
// from config.ServeFlags.
func TestServeHelpMatchesReference(t *testing.T) {
	settings, problems := config.Settings()
	if len(problems) > 0 {
		t.Fatalf("reference incomplete: %v", problems)
	}
	want := []string{"config"}
	for _, s := range settings {
		if s.Flag != "" {
			want = append(want, s.Flag)
		}
	}
	slices.Sort(want)
	got := helpFlags(t, "serve", "-h")
	for _, f := range want {
		if !slices.Contains(got, f) {
			t.Errorf("--%s is in the reference but not in portus serve -h", f)
		}
	}
	for _, f := range got {
		if !slices.Contains(want, f) {
			t.Errorf("--%s is in portus serve -h but not in the reference", f)
		}
	}
	// Admin verbs read the data and store settings by the same names.
	for _, f := range helpFlags(t, "user", "list", "-h") {
		if f != "o" && !slices.Contains(want, f) {
			t.Errorf("portus user list -h has --%s, which the reference lacks", f)
		}
	}

	var stdout, stderr bytes.Buffer
	if code := Main(Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}, []string{"config", "reference"}); code != 0 {
		t.Fatalf("portus config reference: exit %d: %s", code, stderr.String())
	}
	var ref bytes.Buffer
	if err := config.Reference(&ref); err != nil || !bytes.Equal(ref.Bytes(), stdout.Bytes()) {
		t.Errorf("portus config reference does not print config.Reference (err %v)", err)
	}
}
