package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadMissingIsDefault(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Strict || len(c.Registries) != 0 || c.KeyringTimeout != DefaultKeyringTimeout || c.HTTPTimeout != DefaultHTTPTimeout {
		t.Fatalf("got %+v, want defaults", c)
	}
}

func TestLoadFull(t *testing.T) {
	path := write(t, `{
	  "registries": {
	    "https://Registry.Example.com/v2/": {"portus": "https://portus.example/", "ca_file": "ca.pem", "scope": "pull"},
	    "localhost:5000": {"portus": "http://localhost:3000/portus/"}
	  },
	  "strict": true,
	  "keyring_timeout": "2s",
	  "http_timeout": "1m"
	}`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Strict || c.KeyringTimeout != 2*time.Second || c.HTTPTimeout != time.Minute {
		t.Fatalf("got %+v", c)
	}
	r := c.Registry("registry.example.com")
	want := Registry{Portus: "https://portus.example", CAFile: filepath.Join(filepath.Dir(path), "ca.pem"), Scope: "pull"}
	if r != want {
		t.Fatalf("registry.example.com = %+v, want %+v", r, want)
	}
	if got := c.Registry("localhost:5000").Portus; got != "http://localhost:3000/portus" {
		t.Fatalf("localhost:5000 portus = %q", got)
	}
	if got := c.Registry("other.example"); got != (Registry{}) {
		t.Fatalf("unconfigured registry = %+v, want zero", got)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := map[string]string{
		"syntax":          `{"strict": tru}`,
		"unknown field":   `{"stric": true}`,
		"bad registry":    `{"registries": {"ftp://x": {}}}`,
		"duplicate":       `{"registries": {"X.example": {}, "https://x.example/": {}}}`,
		"bad portus":      `{"registries": {"x.example": {"portus": "portus.example"}}}`,
		"portus userinfo": `{"registries": {"x.example": {"portus": "https://a:b@portus.example"}}}`,
		"bad scope":       `{"registries": {"x.example": {"scope": "admin"}}}`,
		"bad timeout":     `{"keyring_timeout": "ten"}`,
		"zero timeout":    `{"http_timeout": "0s"}`,
		"trailing":        `{} {}`,
	}
	for name, body := range tests {
		path := write(t, body)
		_, err := Load(path)
		if err == nil {
			t.Errorf("%s: want an error", name)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		if strings.Contains(err.Error(), ":b@") {
			t.Errorf("%s: error repeats user information: %q", name, err)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv(EnvPath, "")
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if got, want := DefaultPath(), filepath.Join("/xdg", DirName, FileName); got != want {
		t.Errorf("DefaultPath() = %q, want %q", got, want)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/alice")
	if got, want := DefaultPath(), filepath.Join("/home/alice", ".config", DirName, FileName); got != want {
		t.Errorf("DefaultPath() = %q, want %q", got, want)
	}
	t.Setenv(EnvPath, "/etc/portus-helper.json")
	if got := DefaultPath(); got != "/etc/portus-helper.json" {
		t.Errorf("DefaultPath() = %q with %s set", got, EnvPath)
	}
}

func TestLoadUnreadable(t *testing.T) {
	path := t.TempDir() // a directory: exists, cannot be read as a file
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "configuration file "+path+": cannot be read") ||
		strings.Count(err.Error(), path) != 1 {
		t.Fatalf("Load(directory) = %v, want one mention of the file and what is wrong", err)
	}
}
