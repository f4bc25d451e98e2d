package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// LDAPConfig is the `ldap:` section: checking passwords against an LDAP
// directory. LDAP is off while URL is empty. Each key is also a flag
// --ldap-KEY and a variable PORTUS_LDAP_KEY (dashes and underscores as
// usual); the service account's password is only ever read from the file
// bind_password_file.
type LDAPConfig struct {
	// URL is ldap://HOST[:PORT] or ldaps://HOST[:PORT].
	URL string `yaml:"url"`
	// StartTLS upgrades an ldap:// connection before the first bind.
	StartTLS bool `yaml:"start_tls"`
	// CAFile is a PEM file of the CAs that sign the directory's
	// certificate (default: the system's).
	CAFile string `yaml:"ca_file"`
	// BindDN is the service account that searches for users (empty:
	// anonymous search); its password is in BindPasswordFile.
	BindDN           string `yaml:"bind_dn"`
	BindPasswordFile string `yaml:"bind_password_file"`
	// Base is the DN under which users are searched.
	Base string `yaml:"base"`
	// Filter finds a user; %s is the username, escaped.
	Filter string `yaml:"filter"`
	// UIDAttribute holds the username; the entry found must have the name
	// typed in it.
	UIDAttribute string `yaml:"uid_attribute"`
	// MailAttribute and NameAttribute fill in the account's email and
	// display name.
	MailAttribute string `yaml:"mail_attribute"`
	NameAttribute string `yaml:"name_attribute"`
	// AdminGroup is the DN of a group whose members (member or
	// uniqueMember) are administrators; empty leaves the flag to the
	// administrators of Portus.
	AdminGroup string `yaml:"admin_group"`
	// Timeout bounds one whole password check with the directory.
	Timeout time.Duration `yaml:"timeout"`
	// Order is "local,ldap" or "ldap,local": which is asked first.
	Order string `yaml:"order"`
}

// Values of LDAPConfig.Order.
const (
	LDAPOrderLocalFirst = "local,ldap"
	LDAPOrderLDAPFirst  = "ldap,local"
)

// Values of Config.DockerLogin.
const (
	DockerLoginPasswordsAllowed = "passwords_allowed"
	DockerLoginTokensOnly       = "tokens_only"
)

// DefaultLDAP is the `ldap:` section when nothing is set: off.
func DefaultLDAP() LDAPConfig {
	return LDAPConfig{
		Filter:        "(uid=%s)",
		UIDAttribute:  "uid",
		MailAttribute: "mail",
		NameAttribute: "cn",
		Timeout:       5 * time.Second,
		Order:         LDAPOrderLocalFirst,
	}
}

// Enabled reports whether passwords are checked against a directory.
func (l LDAPConfig) Enabled() bool { return l.URL != "" }

// ldapFlags registers the LDAP settings and --docker-login.
func ldapFlags(fs *flag.FlagSet, c *Config) {
	l := &c.LDAP
	fs.StringVar(&c.DockerLogin, "docker-login", c.DockerLogin, "passwords_allowed, or tokens_only: docker login and /v2/token take application tokens only (a user's own setting wins)")
	fs.StringVar(&l.URL, "ldap-url", l.URL, "check passwords against this LDAP directory (`URL` ldap://HOST[:PORT] or ldaps://HOST[:PORT]; empty: off)")
	fs.BoolVar(&l.StartTLS, "ldap-start-tls", l.StartTLS, "upgrade the ldap:// connection with StartTLS")
	fs.StringVar(&l.CAFile, "ldap-ca-file", l.CAFile, "PEM `FILE` of the CAs of the directory's certificate (default: the system's)")
	fs.StringVar(&l.BindDN, "ldap-bind-dn", l.BindDN, "`DN` of the service account that searches for users (empty: anonymous)")
	fs.StringVar(&l.BindPasswordFile, "ldap-bind-password-file", l.BindPasswordFile, "`FILE` holding the service account's password")
	fs.StringVar(&l.Base, "ldap-base", l.Base, "`DN` under which users are searched")
	fs.StringVar(&l.Filter, "ldap-filter", l.Filter, "search `FILTER` for a user; %s is the escaped username")
	fs.StringVar(&l.UIDAttribute, "ldap-uid-attribute", l.UIDAttribute, "`ATTRIBUTE` holding the username")
	fs.StringVar(&l.MailAttribute, "ldap-mail-attribute", l.MailAttribute, "`ATTRIBUTE` holding the email address")
	fs.StringVar(&l.NameAttribute, "ldap-name-attribute", l.NameAttribute, "`ATTRIBUTE` holding the display name")
	fs.StringVar(&l.AdminGroup, "ldap-admin-group", l.AdminGroup, "`DN` of the group whose members are administrators (checked at every sign-in)")
	fs.DurationVar(&l.Timeout, "ldap-timeout", l.Timeout, "bound of one password check with the directory")
	fs.StringVar(&l.Order, "ldap-order", l.Order, "local,ldap or ldap,local: which password is tried first")
}

// validateLDAP checks the ldap section and docker_login.
func (c *Config) validateLDAP() error {
	switch c.DockerLogin {
	case DockerLoginPasswordsAllowed, DockerLoginTokensOnly:
	default:
		return fmt.Errorf("--docker-login %q: must be passwords_allowed or tokens_only", c.DockerLogin)
	}
	l := &c.LDAP
	if !l.Enabled() {
		if l.Base != "" || l.BindDN != "" || l.AdminGroup != "" {
			return errors.New("ldap: base, bind_dn and admin_group need ldap.url (--ldap-url), the directory to ask")
		}
		return nil
	}
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return fmt.Errorf("--ldap-url %q: must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]", l.URL)
	}
	if l.StartTLS && u.Scheme == "ldaps" {
		return errors.New("--ldap-start-tls is for ldap:// URLs; ldaps:// is TLS from the start")
	}
	if l.CAFile != "" && u.Scheme == "ldap" && !l.StartTLS {
		return errors.New("--ldap-ca-file is used only with ldaps:// or --ldap-start-tls")
	}
	if l.Base == "" {
		return errors.New("--ldap-base: name the DN under which users are searched, such as ou=people,dc=example,dc=org")
	}
	if (l.BindDN == "") != (l.BindPasswordFile == "") {
		return errors.New("--ldap-bind-dn and --ldap-bind-password-file go together (the password is never a setting, only a file)")
	}
	if !strings.Contains(l.Filter, "%s") {
		return fmt.Errorf("--ldap-filter %q: must contain %%s where the username goes, such as (uid=%%s)", l.Filter)
	}
	for name, v := range map[string]string{"uid-attribute": l.UIDAttribute, "mail-attribute": l.MailAttribute, "name-attribute": l.NameAttribute} {
		if v == "" {
			return fmt.Errorf("--ldap-%s: must not be empty", name)
		}
	}
	if l.Timeout < 100*time.Millisecond || l.Timeout > time.Minute {
		return fmt.Errorf("--ldap-timeout %s: must be between 100ms and 1m", l.Timeout)
	}
	l.Order = strings.ReplaceAll(l.Order, " ", "")
	switch l.Order {
	case LDAPOrderLocalFirst, LDAPOrderLDAPFirst:
	default:
		return fmt.Errorf("--ldap-order %q: must be %s or %s", l.Order, LDAPOrderLocalFirst, LDAPOrderLDAPFirst)
	}
	return nil
}
