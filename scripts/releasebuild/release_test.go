package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testTargets covers every binary format, archive kind and both programs,
// and keeps the test to four builds.
const testTargets = "portus:linux/amd64,docker-credential-portus:linux/arm64," +
	"docker-credential-portus:darwin/arm64,docker-credential-portus:windows/amd64"

const testEpoch = 1700000000

// release runs scripts/release as a user would, into a new directory.
func release(t *testing.T, args ...string) (string, []byte, error) {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command("./scripts/release", append([]string{"--out", out}, args...)...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", testEpoch))
	msg, err := cmd.CombinedOutput()
	return out, msg, err
}

func TestReleaseIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four release binaries")
	}
	first, msg, err := release(t, "v0.0.0-test", "--targets", testTargets)
	if err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, msg)
	}
	second, msg, err := release(t, "v0.0.0-test", "--targets", testTargets)
	if err != nil {
		t.Fatalf("scripts/release, again: %v\n%s", err, msg)
	}
	sums, err := os.ReadFile(filepath.Join(first, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(second, "SHA256SUMS")); !bytes.Equal(sums, again) {
		t.Fatalf("two releases of one commit differ:\n%s\n%s", sums, again)
	}
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != 4 {
		t.Fatalf("SHA256SUMS has %d lines, want 4:\n%s", len(lines), sums)
	}
	for _, line := range lines {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not in sha256sum's format", line)
		}
		data, err := os.ReadFile(filepath.Join(first, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != sum {
			t.Errorf("%s: sha256 %s, SHA256SUMS says %s", name, got, sum)
		}
		t.Run(name, func(t *testing.T) { checkArchive(t, name, data) })
	}
}

// checkArchive unpacks one archive and checks its entries, their owners,
// times and modes, and the binary's format and architecture.
func checkArchive(t *testing.T, name string, data []byte) {
	// name is PROGRAM_VERSION_OS_ARCH.EXT.
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".tar.gz"), ".zip")
	parts := strings.Split(base, "_")
	prog, goos, goarch := parts[0], parts[2], parts[3]
	exe := prog
	if goos == "windows" {
		exe += ".exe"
	}
	var files map[string][]byte
	if strings.HasSuffix(name, ".zip") {
		files = readZip(t, data)
	} else {
		files = readTarGz(t, data)
	}
	for _, f := range []string{exe, "LICENSE", "README.txt"} {
		if _, ok := files[base+"/"+f]; !ok {
			t.Errorf("%s lacks %s/%s", name, base, f)
		}
	}
	if readme := string(files[base+"/README.txt"]); !strings.Contains(readme, prog+" v0.0.0-test for "+goos+"/"+goarch) {
		t.Errorf("README.txt does not name the build:\n%s", readme)
	}
	bin := files[base+"/"+exe]
	if got := binaryFormat(t, bin); got != goos+"/"+goarch {
		t.Errorf("%s is a %s binary, want %s/%s", exe, got, goos, goarch)
	}
	if goos == runtime.GOOS && goarch == runtime.GOARCH {
		checkVersion(t, exe, bin)
	}
}

func readTarGz(t *testing.T, data []byte) map[string][]byte {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("the gzip header holds a name %q or time %v", gz.Name, gz.ModTime)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Unix(testEpoch, 0)) {
			t.Errorf("%s: owner %d:%d (%q:%q), time %v; want 0:0, no names, SOURCE_DATE_EPOCH", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		// The directory and the binary are executable, LICENSE and README.txt not.
		wantMode := int64(0o755)
		if f := path.Base(h.Name); f == "LICENSE" || f == "README.txt" {
			wantMode = 0o644
		}
		if h.Mode != wantMode {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, wantMode)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
}

func readZip(t *testing.T, data []byte) map[string][]byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if !f.Modified.Equal(time.Unix(testEpoch, 0)) {
			t.Errorf("%s: time %v, want SOURCE_DATE_EPOCH", f.Name, f.Modified)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = b
	}
	return files
}

// binaryFormat says which OS and architecture a binary is for, from its
// headers: ELF is linux, Mach-O darwin, PE windows.
func binaryFormat(t *testing.T, bin []byte) string {
	r := bytes.NewReader(bin)
	if f, err := elf.NewFile(r); err == nil {
		return "linux/" + map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
	}
	if f, err := macho.NewFile(r); err == nil {
		return "darwin/" + map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
	}
	if f, err := pe.NewFile(r); err == nil {
		return "windows/" + map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]
	}
	return "unknown"
}

// checkVersion runs a binary built for this machine and checks that its
// version command reports the release's version, commit and date.
func checkVersion(t *testing.T, exe string, bin []byte) {
	file := filepath.Join(t.TempDir(), exe)
	if err := os.WriteFile(file, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(file, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", exe, err)
	}
	commit, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" v0.0.0-test", "commit " + strings.TrimSpace(string(commit)),
		"built " + time.Unix(testEpoch, 0).UTC().Format(time.RFC3339), runtime.Version()} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s version says %q, lacking %q", exe, out, want)
		}
	}
}

func TestReleaseRefusesBadArguments(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "give the version"},
		{[]string{"1.2.3"}, "is not vMAJOR.MINOR.PATCH"},
		{[]string{"v1.2.3", "--targets", "portus:plan9/amd64"}, `unknown target "portus:plan9/amd64"`},
		{[]string{"v1.2.3", "--frobnicate"}, "unknown flag --frobnicate"},
	} {
		_, msg, err := release(t, c.args...)
		if err == nil || !strings.Contains(string(msg), c.want) {
			t.Errorf("scripts/release %v: %v, %q; want a failure saying %q", c.args, err, msg, c.want)
		}
	}
}
