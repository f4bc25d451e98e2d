package cli_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The second half of issue 13's hole 5: another user's admin socket (or
// one in another user's data directory) gets no byte from an admin
// command, least of all the new user's password, and root is no exception.
func TestAdminCLIRefusesForeignSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test chowns a socket to another user and must run as root in CI")
		}
		t.Skip("needs root to chown a socket to another user")
	}
	const nobody = 65534
	for _, foreign := range []string{"socket", "directory"} {
		t.Run(foreign, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(data, 0o700); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(data, "admin.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			owned := sock
			if foreign == "directory" {
				owned = data
			}
			if err := os.Chown(owned, nobody, -1); err != nil {
				t.Fatal(err)
			}
			received := make(chan string, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					received <- ""
					return
				}
				defer conn.Close()
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				n, _ := conn.Read(buf)
				received <- "a connection: " + string(buf[:n])
			}()

			r := portus(t, "stolen-password-1\n", "user", "create", "eve", "--admin", "--password-stdin", "--data", data)
			ln.Close()
			if got := <-received; got != "" {
				t.Errorf("the listener received %q", got)
			}
			if r.code == 0 || !strings.Contains(r.stderr, owned) || !strings.Contains(r.stderr, "uid 65534") {
				t.Errorf("user create on another user's %s: exit %d, stderr %s", foreign, r.code, r.stderr)
			}
		})
	}
}
