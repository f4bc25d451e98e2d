package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"
)

// entry is one file of an archive.
type entry struct {
	name string
	mode fs.FileMode
	data []byte
}

// pack writes t's archive into out and returns its file name. Every entry
// lies under one directory named like the archive, in a fixed order.
func pack(b Build, t Target, bin string, license []byte, out string) (string, error) {
	exe, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	readme, err := readmeText(b, t)
	if err != nil {
		return "", err
	}
	dir := t.archive(b.Version)
	entries := []entry{
		{dir + "/" + t.exe(), 0o755, exe},
		{dir + "/LICENSE", 0o644, license},
		{dir + "/README.txt", 0o644, readme},
	}
	var buf bytes.Buffer
	name := dir + ".tar.gz"
	if t.GOOS == "windows" {
		name = dir + ".zip"
		err = writeZip(&buf, dir, entries, b.Date)
	} else {
		err = writeTarGz(&buf, dir, entries, b.Date)
	}
	if err != nil {
		return "", err
	}
	return name, os.WriteFile(filepath.Join(out, name), buf.Bytes(), 0o644)
}

// writeTarGz writes a ustar archive owned by root (uid and gid 0, no
// names), every time mtime, gzipped without a name or time in its header.
func writeTarGz(buf *bytes.Buffer, dir string, entries []entry, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	hdr := func(name string, mode fs.FileMode, size int64, typ byte) *tar.Header {
		return &tar.Header{Name: name, Mode: int64(mode), Size: size, Typeflag: typ,
			ModTime: mtime, Format: tar.FormatUSTAR}
	}
	if err := tw.WriteHeader(hdr(dir+"/", 0o755, 0, tar.TypeDir)); err != nil {
		return err
	}
	for _, e := range entries {
		if err := tw.WriteHeader(hdr(e.name, e.mode, int64(len(e.data)), tar.TypeReg)); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// writeZip writes a zip archive with Unix modes and every time mtime.
func writeZip(buf *bytes.Buffer, dir string, entries []entry, mtime time.Time) error {
	zw := zip.NewWriter(buf)
	d := &zip.FileHeader{Name: dir + "/", Method: zip.Store, Modified: mtime}
	d.SetMode(fs.ModeDir | 0o755)
	if _, err := zw.CreateHeader(d); err != nil {
		return err
	}
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := w.Write(e.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// writeSums writes SHA256SUMS over the archives in out, sorted by name, in
// the format that sha256sum -c and shasum -a 256 -c read.
func writeSums(out string, archives []string) error {
	archives = slices.Sorted(slices.Values(archives))
	var sums strings.Builder
	for _, name := range archives {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%x  %s\n", sha256.Sum256(data), name)
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(sums.String()), 0o644)
}

// readme is the README.txt of every archive: what the binary is and how
// to install it on the archive's OS. README.md's "Install" says more.
var readme = template.Must(template.New("readme").Parse(`{{.Name}} {{.Version}} for {{.OS}}/{{.Arch}}
commit {{.Commit}}, built {{.Date}}

{{if eq .Name "portus"}}The Portus token server for a Docker registry: "portus serve --help" lists
its flags, "portus help" its admin commands. A systemd unit is in the
source tree at server/dist/portus.service.

Install:  sudo install -m 0755 portus /usr/local/bin/portus
{{else}}The Docker credential helper of Portus: it keeps Portus application tokens,
never passwords, in the OS keyring. Put it on your PATH and set
"credsStore": "portus" in ~/.docker/config.json.

{{if eq .OS "windows"}}Install:  copy docker-credential-portus.exe to %USERPROFILE%\bin and add
          that directory to your user PATH (Settings > System > About >
          Advanced system settings > Environment Variables).
{{else if eq .OS "darwin"}}Install:  sudo install -m 0755 docker-credential-portus /usr/local/bin/
          A browser download is quarantined; clear it with
          xattr -d com.apple.quarantine /usr/local/bin/docker-credential-portus
{{else}}Install:  sudo install -m 0755 docker-credential-portus /usr/local/bin/
{{end}}{{end}}
Check the download first: sha256sum -c SHA256SUMS --ignore-missing
(macOS: shasum -a 256 -c SHA256SUMS --ignore-missing).

https://github.com/portusproject/portus
`))

func readmeText(b Build, t Target) ([]byte, error) {
	var buf bytes.Buffer
	err := readme.Execute(&buf, map[string]string{"Name": t.Prog.Name, "Version": b.Version, "OS": t.GOOS,
		"Arch": t.GOARCH, "Commit": b.Commit, "Date": b.Date.Format(time.RFC3339)})
	text := buf.Bytes()
	if t.GOOS == "windows" {
		text = bytes.ReplaceAll(text, []byte("\n"), []byte("\r\n"))
	}
	return text, err
}
