// Package ldaptest runs a throwaway OpenLDAP server (Debian's slapd) for
// tests: an mdb database in a temporary directory, loaded with slapadd
// from a small LDIF, served on a free loopback port with `-d stats` so
// that the test can count the binds the server saw. It starts in about
// 0.1 s and is killed when the test ends.
//
// The directory (base dc=example,dc=org):
//
//	uid=alice,ou=people   Alice Liddell <alice@example.org>, member of cn=admins,ou=groups
//	uid=bob,ou=people     Bob Builder <bob@example.org>
//	cn=portus,ou=services the service account, the only one allowed to search
//
// The admins group (groupOfNames) also lists a placeholder DN, so that
// its last person can be removed. Anonymous clients may only bind (no
// search), so a client that forgets the service account fails.
package ldaptest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tool paths. Debian installs the slapd tools in /usr/sbin, which is not
// always on PATH.
var (
	slapdPath   = "/usr/sbin/slapd"
	slapaddPath = "/usr/sbin/slapadd"
)

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:PORT/.
	URL string
	// Addr is 127.0.0.1:PORT.
	Addr string
	// With Options.TLS: LDAPSURL is ldaps://localhost:PORT/, and CAFile
	// holds the certificate of the CA that signed the server's certificate
	// (for localhost and 127.0.0.1), which also serves StartTLS on URL.
	LDAPSURL string
	CAFile   string

	t    testing.TB
	dir  string
	tls  bool
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
}

// Require skips the test when slapd is not installed on a workstation,
// and fails it in CI (CI set), where scripts/install-deps must have
// installed it.
func Require(t testing.TB) {
	t.Helper()
	var missing []string
	for _, p := range []string{slapdPath, slapaddPath} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if _, err := exec.LookPath("ldapmodify"); err != nil {
		missing = append(missing, "ldapmodify")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not installed; scripts/install-deps installs slapd and ldap-utils", strings.Join(missing, ", "))
	}
	t.Skipf("%s not installed (run scripts/install-deps)", strings.Join(missing, ", "))
}

// Options change the server that StartWith runs.
type Options struct {
	// TLS adds an ldaps:// listener and StartTLS, with a certificate
	// signed by a new CA.
	TLS bool
}

// Start loads the fixture into a new database and runs slapd on a free
// port. The server is killed when the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, dir: dir, tls: o.TLS}
	conf := filepath.Join(dir, "slapd.conf")
	text := slapdConf(dir)
	if o.TLS {
		var err error
		if s.CAFile, err = writeCertificates(dir); err != nil {
			t.Fatal(err)
		}
		text = fmt.Sprintf("TLSCACertificateFile %[1]s/ca.pem\nTLSCertificateFile %[1]s/server.pem\nTLSCertificateKeyFile %[1]s/server-key.pem\n", dir) + text
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ldif := filepath.Join(dir, "fixture.ldif")
	if err := os.WriteFile(ldif, []byte(fixture()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapaddPath, "-f", conf, "-l", ldif).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	// A free port can be taken between choosing and binding it: try again.
	var lastLog string
	for range 5 {
		if s.start(conf) {
			t.Cleanup(func() {
				s.Kill()
				if t.Failed() {
					t.Logf("slapd log (last 4 KiB):\n%s", tail(s.log.String(), 4096))
				}
			})
			return s
		}
		lastLog = s.log.String()
	}
	t.Fatalf("slapd did not start:\n%s", tail(lastLog, 4096))
	return nil
}

// start runs slapd on a new port and waits until it accepts connections.
// It reports false if slapd exited first.
func (s *Server) start(conf string) bool {
	s.t.Helper()
	s.Addr = freeAddr(s.t)
	s.URL = "ldap://" + s.Addr + "/"
	urls := s.URL
	addrs := []string{s.Addr}
	if s.tls {
		a := freeAddr(s.t)
		_, port, _ := net.SplitHostPort(a)
		s.LDAPSURL = "ldaps://localhost:" + port + "/"
		urls += " ldaps://" + a + "/"
		addrs = append(addrs, a)
	}
	s.log = &lockedBuffer{}
	s.done = make(chan struct{})
	s.cmd = exec.Command(slapdPath, "-f", conf, "-h", urls, "-d", "stats")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting slapd: %v", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return false
		default:
		}
		// Another process may take a port between freeAddr and slapd's
		// bind; then slapd exits, and a dial would reach that other
		// server. slapd logs "slapd starting" once its listeners are open.
		up := strings.Contains(s.log.String(), "slapd starting")
		for _, a := range addrs {
			if !up {
				break
			}
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				up = false
				break
			}
			c.Close()
		}
		if up {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Kill()
	s.t.Fatalf("slapd did not accept connections on %s within 10 s", s.Addr)
	return false
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Kill stops slapd with SIGKILL and waits until it has exited: the
// directory is down and its port refuses connections.
func (s *Server) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Kill()
	<-s.done
}

// Freeze stops slapd with SIGSTOP: the kernel still accepts connections
// on its port, but nothing answers (a hung directory). Thaw resumes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen slapd.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signalling slapd: %v", err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
