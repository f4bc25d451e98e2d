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
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
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
	proc *testutil.Process
	log  *testutil.LockedBuffer
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
		ca := testutil.NewCA(t)
		ca.Issue(t, 2, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
		s.CAFile = filepath.Join(dir, "ca.pem")
		ca.WriteCert(t, s.CAFile)
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
					t.Logf("slapd log (last 4 KiB):\n%s", s.log.Tail(4096))
				}
			})
			return s
		}
		lastLog = s.log.String()
	}
	t.Fatalf("slapd did not start:\n%s", testutil.Tail(lastLog, 4096))
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
	s.log = &testutil.LockedBuffer{}
	p, err := testutil.Start(exec.Command(slapdPath, "-f", conf, "-h", urls, "-d", "stats"), s.log)
	if err != nil {
		s.t.Fatal(err)
	}
	s.proc = p
	// Another process may take a port between freeAddr and slapd's bind;
	// then slapd exits, and a dial would reach that other server. slapd
	// logs "slapd starting" once its listeners are open.
	err = p.WaitReady(10*time.Second, func() bool {
		if !strings.Contains(s.log.String(), "slapd starting") {
			return false
		}
		for _, a := range addrs {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	})
	if errors.Is(err, testutil.ErrExited) {
		return false
	}
	if err != nil {
		s.Kill()
		s.t.Fatalf("slapd did not accept connections on %s within 10 s", s.Addr)
	}
	return true
}

func freeAddr(t testing.TB) string {
	return fmt.Sprintf("127.0.0.1:%d", testutil.Port(t))
}

// Kill stops slapd with SIGKILL and waits until it has exited: the
// directory is down and its port refuses connections.
func (s *Server) Kill() { s.proc.Kill() }

// Freeze stops slapd with SIGSTOP: the kernel still accepts connections
// on its port, but nothing answers (a hung directory). Thaw resumes it.
func (s *Server) Freeze() {
	s.signal(syscall.SIGSTOP)
	// The signal stops each thread when it is next scheduled: on a busy
	// machine slapd could still answer a request or two. Wait until every
	// thread is stopped.
	deadline := time.Now().Add(5 * time.Second)
	for !allStopped(s.proc.PID()) {
		if time.Now().After(deadline) {
			s.t.Fatalf("slapd (pid %d) did not stop within 5 s of SIGSTOP", s.proc.PID())
		}
		time.Sleep(time.Millisecond)
	}
}

// allStopped reports whether every thread of pid is in state T (stopped),
// from /proc/PID/task/*/stat.
func allStopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(task)
		if err != nil {
			return false
		}
		// The state follows the parenthesised command name.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) || (stat[i+2] != 'T' && stat[i+2] != 't') {
			return false
		}
	}
	return true
}

// Thaw resumes a frozen slapd.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	if err := s.proc.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}
