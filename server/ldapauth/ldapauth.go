// Package ldapauth checks passwords against an LDAP directory (OpenLDAP,
// 389-ds, Active Directory …) by search-then-bind:
//
//  1. connect (ldap://, ldaps://, or ldap:// upgraded with StartTLS);
//  2. bind as the service account (or stay anonymous when none is set);
//  3. search the base for the one entry that matches the filter with the
//     escaped username, reading its username, mail and display name;
//  4. when an admin group is set, ask the directory whether that entry is a
//     member of it (a base search of the group with a member/uniqueMember
//     filter, so it works without the memberOf overlay);
//  5. bind as the entry's DN with the password: the directory checks it.
//
// Every attempt uses its own connection and is bounded as a whole by
// Config.Timeout: the dial, TLS and all four operations together. Each
// attempt sends the password in exactly one bind and never retries, so a
// mistyped password is one failure in the directory's own lockout count.
// An empty password is refused before anything is sent (an LDAP bind with
// an empty password is an anonymous bind, which many servers accept).
//
// Errors are sentinels to test with errors.Is: ErrInvalidCredentials,
// ErrNoSuchUser, ErrRefused, ErrAmbiguous, and ErrUnavailable for anything
// that says nothing about the password (the directory is down, slow,
// misconfigured, or the service account cannot bind). The password never
// appears in an error.
package ldapauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Errors of Authenticate.
var (
	// ErrInvalidCredentials: the directory has the user and the password is
	// wrong (or empty).
	ErrInvalidCredentials = errors.New("ldap: invalid credentials")
	// ErrNoSuchUser: the search found no entry for the name.
	ErrNoSuchUser = errors.New("ldap: no such user")
	// ErrAmbiguous: the search found more than one entry, or the entry's
	// username attribute is not the name asked for.
	ErrAmbiguous = errors.New("ldap: the filter does not identify one entry with this username")
	// ErrRefused: the directory refused the user's bind for another reason
	// than the password (account locked or expired, policy).
	ErrRefused = errors.New("ldap: the directory refused the bind")
	// ErrUnavailable: the directory could not be asked (down, slow,
	// unreachable, TLS failure, service account refused). It says nothing
	// about the user's password.
	ErrUnavailable = errors.New("ldap: the directory server is not answering")
)

// DefaultTimeout bounds one authentication when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Config configures a Client. Only URL and Base are required.
type Config struct {
	// URL is ldap://HOST[:PORT] or ldaps://HOST[:PORT].
	URL string
	// StartTLS upgrades an ldap:// connection with the StartTLS operation
	// before anything else is sent.
	StartTLS bool
	// RootCAs verifies the server's certificate for ldaps:// and StartTLS;
	// nil means the system's roots.
	RootCAs *x509.CertPool
	// BindDN and BindPassword are the service account that searches; an
	// empty BindDN searches anonymously.
	BindDN       string
	BindPassword string
	// Base is the DN under which users are searched (whole subtree).
	Base string
	// Filter finds a user; every %s is replaced by the username escaped
	// with ldap.EscapeFilter. Default "(uid=%s)".
	Filter string
	// UIDAttribute holds the username; the entry found must have it equal
	// (case-insensitively) to the name asked for. Default "uid".
	UIDAttribute string
	// MailAttribute and NameAttribute give Entry.Email and
	// Entry.DisplayName. Defaults "mail" and "cn".
	MailAttribute string
	NameAttribute string
	// AdminGroup, when not empty, is the DN of a group (groupOfNames with
	// member, or groupOfUniqueNames with uniqueMember) whose members are
	// administrators. Nested groups are not followed.
	AdminGroup string
	// Timeout bounds one whole authentication, dial included. Zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// Entry is what the directory says about a user whose password it accepted.
type Entry struct {
	// DN is the entry's distinguished name.
	DN string
	// Name is the value of the username attribute, as the directory spells it.
	Name        string
	Email       string
	DisplayName string
	// AdminGroupChecked is set when Config.AdminGroup is set; Admin then
	// says whether the entry is a member of that group.
	AdminGroupChecked bool
	Admin             bool
}

// Client authenticates users against one directory. It holds no
// connection between calls and is safe for concurrent use.
type Client struct {
	cfg     Config
	scheme  string
	addr    string // host:port
	tlsConf *tls.Config
	attrs   []string
}

// New checks cfg and returns a Client. It does not contact the directory.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("LDAP URL %q: must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]", cfg.URL)
	}
	c := &Client{cfg: cfg, scheme: u.Scheme}
	port := u.Port()
	switch u.Scheme {
	case "ldap":
		if port == "" {
			port = "389"
		}
	case "ldaps":
		if cfg.StartTLS {
			return nil, errors.New("StartTLS is for ldap:// URLs; an ldaps:// URL is TLS from the start")
		}
		if port == "" {
			port = "636"
		}
	default:
		return nil, fmt.Errorf("LDAP URL %q: the scheme must be ldap or ldaps", cfg.URL)
	}
	c.addr = net.JoinHostPort(u.Hostname(), port)
	if u.Scheme == "ldaps" || cfg.StartTLS {
		c.tlsConf = &tls.Config{ServerName: u.Hostname(), RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	}
	if c.cfg.Base == "" {
		return nil, errors.New("the LDAP base DN must not be empty")
	}
	if _, err := ldap.ParseDN(c.cfg.Base); err != nil {
		return nil, fmt.Errorf("LDAP base %q: %w", c.cfg.Base, err)
	}
	if c.cfg.AdminGroup != "" {
		if _, err := ldap.ParseDN(c.cfg.AdminGroup); err != nil {
			return nil, fmt.Errorf("LDAP admin group %q: %w", c.cfg.AdminGroup, err)
		}
	}
	if c.cfg.BindDN != "" && c.cfg.BindPassword == "" {
		return nil, errors.New("the LDAP service account (bind DN) needs a password")
	}
	if c.cfg.Filter == "" {
		c.cfg.Filter = "(uid=%s)"
	}
	if !strings.Contains(c.cfg.Filter, "%s") {
		return nil, fmt.Errorf("LDAP filter %q: must contain %%s where the username goes", c.cfg.Filter)
	}
	if _, err := ldap.CompileFilter(c.filter("x")); err != nil {
		return nil, fmt.Errorf("LDAP filter %q: %w", c.cfg.Filter, err)
	}
	if c.cfg.UIDAttribute == "" {
		c.cfg.UIDAttribute = "uid"
	}
	if c.cfg.MailAttribute == "" {
		c.cfg.MailAttribute = "mail"
	}
	if c.cfg.NameAttribute == "" {
		c.cfg.NameAttribute = "cn"
	}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = DefaultTimeout
	}
	c.attrs = []string{c.cfg.UIDAttribute, c.cfg.MailAttribute, c.cfg.NameAttribute}
	return c, nil
}

// Timeout is the bound of one authentication.
func (c *Client) Timeout() time.Duration { return c.cfg.Timeout }

// Encrypted reports whether passwords travel over TLS (ldaps:// or
// StartTLS).
func (c *Client) Encrypted() bool { return c.tlsConf != nil }

// LoadCAFile reads PEM certificates for Config.RootCAs.
func LoadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the LDAP CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("LDAP CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// filter is the search filter for name.
func (c *Client) filter(name string) string {
	return strings.ReplaceAll(c.cfg.Filter, "%s", ldap.EscapeFilter(name))
}

// Authenticate checks name's password with the directory and returns the
// user's entry. See the package documentation for the steps and errors.
func (c *Client) Authenticate(name, password string) (Entry, error) {
	if password == "" {
		return Entry{}, ErrInvalidCredentials
	}
	if name == "" {
		return Entry{}, ErrNoSuchUser
	}
	conn, err := c.connect()
	if err != nil {
		return Entry{}, err
	}
	// Closing waits for the server's goodbye; do not let a slow server
	// hold the caller beyond the deadline.
	defer func() { go conn.Close() }()

	if c.cfg.BindDN != "" {
		if err := conn.Bind(c.cfg.BindDN, c.cfg.BindPassword); err != nil {
			return Entry{}, unavailable("binding as the service account "+c.cfg.BindDN, err)
		}
	}
	res, err := conn.Search(ldap.NewSearchRequest(c.cfg.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, 0, false, c.filter(name), c.attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return Entry{}, ErrAmbiguous
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return Entry{}, unavailable("searching users", fmt.Errorf("the base %s does not exist or may not be read", c.cfg.Base))
	case err != nil:
		return Entry{}, unavailable("searching users", err)
	case len(res.Entries) == 0:
		return Entry{}, ErrNoSuchUser
	case len(res.Entries) > 1:
		return Entry{}, ErrAmbiguous
	}
	e := res.Entries[0]
	entry := Entry{
		DN:          e.DN,
		Name:        e.GetEqualFoldAttributeValue(c.cfg.UIDAttribute),
		Email:       e.GetEqualFoldAttributeValue(c.cfg.MailAttribute),
		DisplayName: e.GetEqualFoldAttributeValue(c.cfg.NameAttribute),
	}
	if !hasFold(e.GetEqualFoldAttributeValues(c.cfg.UIDAttribute), name) {
		return Entry{}, ErrAmbiguous
	}
	if c.cfg.AdminGroup != "" {
		entry.AdminGroupChecked = true
		if entry.Admin, err = c.member(conn, e.DN); err != nil {
			return Entry{}, err
		}
	}
	// The one bind that carries the user's password.
	err = conn.Bind(e.DN, password)
	switch {
	case err == nil:
		return entry, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return Entry{}, ErrInvalidCredentials
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultInappropriateAuthentication, ldap.LDAPResultInsufficientAccessRights,
		ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultConstraintViolation):
		return Entry{}, fmt.Errorf("%w: %w", ErrRefused, err)
	default:
		return Entry{}, unavailable("binding as the user", err)
	}
}

// member asks the directory whether dn is a member of the admin group. A
// group that does not exist has no members.
func (c *Client) member(conn *ldap.Conn, dn string) (bool, error) {
	v := ldap.EscapeFilter(dn)
	res, err := conn.Search(ldap.NewSearchRequest(c.cfg.AdminGroup, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(|(member="+v+")(uniqueMember="+v+"))", []string{"1.1"}, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return false, nil
	case err != nil:
		return false, unavailable("reading the admin group", err)
	}
	return len(res.Entries) == 1, nil
}

// connect dials the directory with a deadline for the whole attempt and,
// when configured, secures the connection.
func (c *Client) connect() (*ldap.Conn, error) {
	deadline := time.Now().Add(c.cfg.Timeout)
	raw, err := (&net.Dialer{Deadline: deadline}).Dial("tcp", c.addr)
	if err != nil {
		return nil, unavailable("connecting to "+c.addr, err)
	}
	// The deadline on the socket bounds every read and write that follows,
	// TLS handshakes included.
	if err := raw.SetDeadline(deadline); err != nil {
		raw.Close()
		return nil, unavailable("connecting to "+c.addr, err)
	}
	netConn := raw
	if c.scheme == "ldaps" {
		tc := tls.Client(raw, c.tlsConf)
		if err := tc.Handshake(); err != nil {
			raw.Close()
			return nil, unavailable("TLS handshake with "+c.addr, err)
		}
		netConn = tc
	}
	conn := ldap.NewConn(netConn, c.scheme == "ldaps")
	conn.Start()
	conn.SetTimeout(c.cfg.Timeout)
	if c.cfg.StartTLS {
		if err := conn.StartTLS(c.tlsConf); err != nil {
			go conn.Close()
			return nil, unavailable("StartTLS with "+c.addr, err)
		}
	}
	return conn, nil
}

func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

func hasFold(values []string, name string) bool {
	for _, v := range values {
		if strings.EqualFold(v, name) {
			return true
		}
	}
	return false
}
