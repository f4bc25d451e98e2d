// Command releasebuild is the body of scripts/release: it cross-compiles
// both programs for every release target, packs each binary with LICENSE
// and a short README into a .tar.gz (.zip for Windows) and writes
// SHA256SUMS. The archives are written here with archive/tar, archive/zip
// and compress/gzip instead of tar and zip commands so that they are
// byte-identical for the same commit and SOURCE_DATE_EPOCH: fixed file
// order, times, owners and modes, no gzip name or time. Go's own builds are
// reproducible with -trimpath, -buildvcs=false and an empty build ID.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Program is one of the two binaries a release ships.
type Program struct {
	Name string
	// Pkg is the main package.
	Pkg string
	// VersionVar is the variable, set with -X, that its version command reads.
	VersionVar string
}

var (
	server = Program{"portus", "./server/cmd/portus", "github.com/portusproject/portus/server/cli.Version"}
	helper = Program{"docker-credential-portus", "./helper/cmd/docker-credential-portus", "main.version"}
)

// Target is one binary of the release: a program for an OS and architecture.
type Target struct {
	Prog   Program
	GOOS   string
	GOARCH string
}

func (t Target) String() string { return t.Prog.Name + ":" + t.GOOS + "/" + t.GOARCH }

// exe is the binary's file name.
func (t Target) exe() string {
	if t.GOOS == "windows" {
		return t.Prog.Name + ".exe"
	}
	return t.Prog.Name
}

// archive is the archive's base name without extension, also its top
// directory: portus_v1.2.3_linux_amd64.
func (t Target) archive(version string) string {
	return fmt.Sprintf("%s_%s_%s_%s", t.Prog.Name, version, t.GOOS, t.GOARCH)
}

// allTargets is the release: the server for Linux, the helper for every
// workstation OS, each on amd64 and arm64.
func allTargets() []Target {
	var ts []Target
	for _, arch := range []string{"amd64", "arm64"} {
		ts = append(ts, Target{Prog: server, GOOS: "linux", GOARCH: arch})
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, arch := range []string{"amd64", "arm64"} {
			ts = append(ts, Target{Prog: helper, GOOS: goos, GOARCH: arch})
		}
	}
	return ts
}

// selectTargets returns the targets that list names ("portus:linux/amd64,
// docker-credential-portus:darwin/arm64"); "" means all of them.
func selectTargets(list string) ([]Target, error) {
	all := allTargets()
	if list == "" {
		return all, nil
	}
	var ts []Target
	for _, name := range strings.Split(list, ",") {
		i := slices.IndexFunc(all, func(t Target) bool { return t.String() == strings.TrimSpace(name) })
		if i < 0 {
			var names []string
			for _, t := range all {
				names = append(names, t.String())
			}
			return nil, fmt.Errorf("unknown target %q: choose from %s", name, strings.Join(names, ", "))
		}
		ts = append(ts, all[i])
	}
	return ts, nil
}

// Build is what one release run stamps into every binary.
type Build struct {
	Version string
	Commit  string
	Date    time.Time
}

func main() {
	var (
		b       Build
		out     = flag.String("out", "dist", "the directory the archives and SHA256SUMS go to")
		targets = flag.String("targets", "", "only these targets, comma-separated (e.g. portus:linux/amd64); all by default")
		epoch   = flag.Int64("epoch", -1, "build date as seconds since 1970 (SOURCE_DATE_EPOCH)")
	)
	flag.StringVar(&b.Version, "version", "", "the version, e.g. v1.2.3")
	flag.StringVar(&b.Commit, "commit", "", "the git commit")
	flag.Parse()
	if err := run(b, *out, *targets, *epoch); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(b Build, out, targetList string, epoch int64) error {
	if b.Version == "" || b.Commit == "" || epoch < 0 {
		return errors.New("-version, -commit and -epoch are required (scripts/release sets them)")
	}
	b.Date = time.Unix(epoch, 0).UTC()
	ts, err := selectTargets(targetList)
	if err != nil {
		return err
	}
	license, err := os.ReadFile("LICENSE")
	if err != nil {
		return fmt.Errorf("reading LICENSE (run from the repository root): %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "portus-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var archives []string
	for _, t := range ts {
		fmt.Fprintf(os.Stderr, "release: building %s\n", t)
		bin := filepath.Join(tmp, t.GOOS+"_"+t.GOARCH, t.exe())
		if err := build(b, t, bin); err != nil {
			return err
		}
		name, err := pack(b, t, bin, license, out)
		if err != nil {
			return fmt.Errorf("packing %s: %w", t, err)
		}
		archives = append(archives, name)
	}
	if err := writeSums(out, archives); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "release: %d archives and SHA256SUMS in %s\n", len(archives), out)
	return nil
}

// build compiles t into bin with everything that could differ between two
// machines pinned: no cgo, no paths, no VCS stamp (the commit comes through
// -X), no build ID, the baseline instruction sets.
func build(b Build, t Target, bin string) error {
	const bi = "github.com/portusproject/portus/shared/buildinfo."
	ldflags := strings.Join([]string{
		"-s", "-w", "-buildid=",
		"-X", t.Prog.VersionVar + "=" + b.Version,
		"-X", bi + "Commit=" + b.Commit,
		"-X", bi + "Date=" + b.Date.Format(time.RFC3339),
	}, " ")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", bin, t.Prog.Pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.GOOS, "GOARCH="+t.GOARCH,
		"GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=-mod=readonly", "GOEXPERIMENT=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %w", t, err)
	}
	return nil
}
