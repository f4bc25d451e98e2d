// Package buildinfo owns what a release build stamps into both programs —
// commit and build date — and the line that their version commands print
// about the build. scripts/release sets the variables with
//
//	-ldflags "-X github.com/portusproject/portus/shared/buildinfo.Commit=... -X ...buildinfo.Date=..."
//
// (each program keeps its own version variable, where its version command
// has always read it). Unstamped builds fall back to what the Go toolchain
// recorded, and then to "unknown".
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker; empty in a plain go build.
var (
	// Commit is the git commit the binary was built from.
	Commit = ""
	// Date is the build date, RFC 3339 in UTC (the release uses
	// SOURCE_DATE_EPOCH, so that rebuilding gives the same bytes).
	Date = ""
)

// Details is the second line of both programs' version output:
// "commit C, built D, go1.26.0 linux/amd64".
func Details() string {
	commit, date := Commit, Date
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && commit == "":
				commit = s.Value
			case s.Key == "vcs.time" && date == "":
				date = s.Value
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	if date == "" {
		date = "unknown"
	}
	return fmt.Sprintf("commit %s, built %s, %s %s/%s", commit, date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
