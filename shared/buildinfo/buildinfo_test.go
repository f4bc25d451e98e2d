package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestDetails(t *testing.T) {
	Commit, Date = "0123abc", "2024-05-06T07:08:09Z"
	t.Cleanup(func() { Commit, Date = "", "" })
	want := "commit 0123abc, built 2024-05-06T07:08:09Z, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	if got := Details(); got != want {
		t.Fatalf("Details() = %q, want %q", got, want)
	}
	Commit, Date = "", ""
	// A test binary records no VCS settings.
	if got := Details(); !strings.HasPrefix(got, "commit unknown, built unknown, go") {
		t.Fatalf("unstamped Details() = %q", got)
	}
}
