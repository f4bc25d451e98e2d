package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/internal/testutil"
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
	testutil.GeneratedFileCurrent(t, filepath.Join("..", "..", "docs", "commands.md"), want.String(),
		"go run ./server/cmd/portus help --markdown > docs/commands.md")
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
