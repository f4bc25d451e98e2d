package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsCommandsCurrent: docs/commands.md is what `portus help
// --markdown` prints, so a command, verb or flag added without its help
// reaching the docs fails here.
func TestDocsCommandsCurrent(t *testing.T) {
	var want bytes.Buffer
	if code := Main(Env{Stdin: strings.NewReader(""), Stdout: &want, Stderr: &want, Getenv: func(string) string { return "" }},
		[]string{"help", "--markdown"}); code != 0 {
		t.Fatalf("portus help --markdown: exit %d:\n%s", code, want.String())
	}
	const regenerate = "go run ./server/cmd/portus help --markdown > docs/commands.md"
	got, err := os.ReadFile(filepath.Join("..", "..", "docs", "commands.md"))
	if err != nil {
		t.Fatalf("reading docs/commands.md: %v (create it: %s)", err, regenerate)
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(want.String(), "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("docs/commands.md differs from `portus help --markdown` at line %d:\n  file: %q\n  help: %q\nregenerate it: %s", i+1, g, w, regenerate)
		}
	}
	// Every command and verb of the table has its section.
	for _, c := range commands {
		if !strings.Contains(want.String(), "\n## portus "+c.name+"\n") {
			t.Errorf("no section for portus %s", c.name)
		}
		for _, v := range c.verbs {
			if !strings.Contains(want.String(), "\n### portus "+c.name+" "+v.name+"\n") {
				t.Errorf("no section for portus %s %s", c.name, v.name)
			}
		}
	}
}

func TestWithoutSettings(t *testing.T) {
	help := "Usage: portus x FILE\n\nFlags:\n  -data DIR\n    \tthe data\n  -force\n    \tdo it anyway\n  -store SPEC\n    \twhere\n"
	got, dropped := withoutSettings(help)
	if want := "Usage: portus x FILE\n\nFlags:\n  -force\n    \tdo it anyway\n"; got != want || strings.Join(dropped, ",") != "data,store" {
		t.Errorf("withoutSettings = %q, %v", got, dropped)
	}
	if got, _ := withoutSettings("Usage: portus y\n\nFlags:\n  -data DIR\n    \tthe data\n"); got != "Usage: portus y\n" {
		t.Errorf("only settings: %q, want the usage line alone", got)
	}
}
