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
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
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
	"github.com/portusproject/portus/server/ldapauth"
)

// The fixture's names and passwords.
const (
	Base            = "dc=example,dc=org"
	People          = "ou=people," + Base
	AdminsGroup     = "cn=admins,ou=groups," + Base
	ServiceDN       = "cn=portus,ou=services," + Base
	ServicePassword = "service-account-password"
	RootDN          = "cn=root," + Base
	RootPassword    = "root-password"

	AlicePassword = "alice-directory-password"
	BobPassword   = "bob-directory-password"
)

// UserDN is the DN of a user of the fixture.
func UserDN(name string) string { return "uid=" + name + "," + People }

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
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen slapd.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	if err := s.proc.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// Config returns a client configuration for this server with the service
// account and the admin group, and a timeout of 2 s.
func (s *Server) Config() ldapauth.Config {
	return ldapauth.Config{
		URL:          s.URL,
		BindDN:       ServiceDN,
		BindPassword: ServicePassword,
		Base:         People,
		AdminGroup:   AdminsGroup,
		Timeout:      2 * time.Second,
	}
}

// BindPasswordFile writes the service account's password to a new file
// (mode 0600) and returns its path.
func (s *Server) BindPasswordFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ldap-bind-password")
	if err := os.WriteFile(p, []byte(ServicePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Modify applies an LDIF change as the directory's root with ldapmodify.
func (s *Server) Modify(t testing.TB, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapmodify", "-x", "-H", s.URL, "-D", RootDN, "-w", RootPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapmodify: %v\n%s", err, out)
	}
}

// RemoveAdmin takes name out of the admins group.
func (s *Server) RemoveAdmin(t testing.TB, name string) {
	t.Helper()
	s.Modify(t, fmt.Sprintf("dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n", AdminsGroup, UserDN(name)))
}

// AddAdmin puts name into the admins group.
func (s *Server) AddAdmin(t testing.TB, name string) {
	t.Helper()
	s.Modify(t, fmt.Sprintf("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n", AdminsGroup, UserDN(name)))
}

// Binds returns how many bind requests for dn the server has logged.
func (s *Server) Binds(dn string) int {
	return strings.Count(s.log.String(), `BIND dn="`+dn+`" method=`)
}

// WaitBinds waits up to 5 s until the server has logged want binds for dn
// (slapd writes its log asynchronously) and returns the count it saw.
func (s *Server) WaitBinds(dn string, want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := s.Binds(dn)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Log returns slapd's log so far.
func (s *Server) Log() string { return s.log.String() }

func slapdConf(dir string) string {
	return fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
access to attrs=userPassword
  by self =xw
  by anonymous auth
  by * none
access to *
  by dn.exact="%[5]s" read
  by self read
  by * none
`, dir, Base, RootDN, RootPassword, ServiceDN)
}

func fixture() string {
	return fmt.Sprintf(`dn: %[1]s
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,%[1]s
objectClass: organizationalUnit
ou: people

dn: ou=groups,%[1]s
objectClass: organizationalUnit
ou: groups

dn: ou=services,%[1]s
objectClass: organizationalUnit
ou: services

dn: %[2]s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: portus
userPassword: %[3]s

dn: %[4]s
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.org
userPassword: %[5]s

dn: %[6]s
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: bob@example.org
userPassword: %[7]s

dn: %[8]s
objectClass: groupOfNames
cn: admins
member: %[4]s
member: cn=placeholder,ou=groups,%[1]s
`, Base, ServiceDN, ssha(ServicePassword), UserDN("alice"), ssha(AlicePassword), UserDN("bob"), ssha(BobPassword), AdminsGroup)
}

// ssha is the {SSHA} userPassword scheme: base64(SHA-1(password+salt)+salt).
func ssha(password string) string {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}
