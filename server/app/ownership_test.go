package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/model"
)

// nobody is the uid the tests give files of "another user".
const nobody = 65534

// needRoot skips a test that must chown files to another user, unless it
// runs in CI, where it must not be skipped silently.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test chowns files to another user and must run as root in CI")
	}
	t.Skip("needs root to chown files to another user")
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
}

// The attack of issue 13: another user makes the data directory first and
// puts their own signing key and pepper in it. Serve must not use them.
func TestServeRefusesForeignDataDir(t *testing.T) {
	needRoot(t)
	c := testConfig(t)
	if err := os.Mkdir(c.Data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{model.SecretPepper, model.SecretSigningKey} {
		path := filepath.Join(c.Data, name)
		if err := os.WriteFile(path, []byte("the attacker's "+name+" of 32 bytes or more"), 0o600); err != nil {
			t.Fatal(err)
		}
		chown(t, path, nobody)
	}
	chown(t, c.Data, nobody)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := app.Serve(ctx, c, log, func(net.Addr) { t.Error("Serve started on another user's data directory") })
	if err == nil {
		t.Fatal("Serve accepted another user's data directory")
	}
	for _, want := range []string{c.Data, "uid 65534", "chown"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not name %q: %v", want, err)
		}
	}
	if m := mode(t, c.Data); m != 0o755 {
		t.Errorf("the refused directory's mode was changed to %o", m)
	}
	if _, err := os.Stat(c.SocketPath()); err == nil {
		t.Error("an admin socket was created in another user's data directory")
	}
}

// Every file Portus uses, and the directory itself, is refused when another
// user owns it or others may write it; a mode that only others may read is
// tightened as before (TestOpenCoreCreatesPrivateFiles).
func TestOpenCoreRefusesUnsafeDataDir(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name, file string // file "" is the directory
		uid        int
		mode       os.FileMode
		want       string
	}{
		{"group-writable directory", "", 0, 0o770, "chmod go-w"},
		{"world-writable directory", "", 0, 0o777, "mode 0777"},
		{"foreign directory", "", nobody, 0o700, "uid 65534"},
		{"foreign pepper", model.SecretPepper, nobody, 0o600, "uid 65534"},
		{"foreign signing key", model.SecretSigningKey, nobody, 0o600, "uid 65534"},
		{"foreign signing certificate", model.SecretSigningCert, nobody, 0o644, "uid 65534"},
		{"foreign database", "portus.db", nobody, 0o600, "uid 65534"},
		{"foreign admin socket", "admin.sock", nobody, 0o600, "uid 65534"},
		{"group-writable pepper", model.SecretPepper, 0, 0o620, "chmod go-w"},
		{"world-writable registry bundle", app.RegistryBundleName, 0, 0o646, "chmod go-w"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig(t)
			if err := os.Mkdir(c.Data, 0o700); err != nil {
				t.Fatal(err)
			}
			path := c.Data
			if tc.file != "" {
				path = filepath.Join(c.Data, tc.file)
				if err := os.WriteFile(path, []byte("planted, at least thirty-two bytes"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			chown(t, path, tc.uid)
			core, err := app.OpenCore(c, cheap)
			if err == nil {
				core.Close()
				t.Fatalf("OpenCore accepted %s", tc.name)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("the refusal names neither %s nor %q: %v", path, tc.want, err)
			}
		})
	}
}

// A symbolic link in the data directory is judged by its target too.
func TestOpenCoreRefusesLinkToForeignFile(t *testing.T) {
	needRoot(t)
	c := testConfig(t)
	if err := os.Mkdir(c.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "their-pepper")
	if err := os.WriteFile(target, []byte("planted, at least thirty-two bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	chown(t, target, nobody)
	if err := os.Symlink(target, pepperPath(c)); err != nil {
		t.Fatal(err)
	}
	if core, err := app.OpenCore(c, cheap); err == nil {
		core.Close()
		t.Fatal("OpenCore followed a link to another user's pepper")
	} else if !strings.Contains(err.Error(), "link target") {
		t.Errorf("the refusal does not mention the link: %v", err)
	}
}

func TestCheckAdminSocket(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	if err := app.CheckAdminSocket(sock); err != nil {
		t.Errorf("a missing socket: %v", err)
	}
	if err := app.CheckAdminSocket(filepath.Join(dir, "missing", "admin.sock")); err != nil {
		t.Errorf("a missing directory: %v", err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := app.CheckAdminSocket(sock); err != nil {
		t.Errorf("our own socket: %v", err)
	}
	chown(t, sock, nobody)
	if err := app.CheckAdminSocket(sock); err == nil || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("another user's socket: %v", err)
	}
}
