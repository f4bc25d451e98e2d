package ldaptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/ldapauth"
)

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
