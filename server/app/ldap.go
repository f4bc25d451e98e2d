package app

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/ldapauth"
)

// passwordOptions fills in opts.Passwords from the configuration: the
// LDAP directory, when ldap.url is set, and the docker_login policy.
func passwordOptions(c config.Config, opts *account.Options) error {
	p := &opts.Passwords
	if p.DockerLogin == "" {
		p.DockerLogin = c.DockerLogin
	}
	if p.ProfileURL == "" {
		p.ProfileURL = strings.TrimRight(c.URL, "/") + "/profile"
	}
	if p.Directory != nil || !c.LDAP.Enabled() {
		return nil
	}
	l := c.LDAP
	cfg := ldapauth.Config{
		URL: l.URL, StartTLS: l.StartTLS, BindDN: l.BindDN, Base: l.Base, Filter: l.Filter,
		UIDAttribute: l.UIDAttribute, MailAttribute: l.MailAttribute, NameAttribute: l.NameAttribute,
		AdminGroup: l.AdminGroup, Timeout: l.Timeout,
	}
	if l.CAFile != "" {
		pool, err := ldapauth.LoadCAFile(l.CAFile)
		if err != nil {
			return err
		}
		cfg.RootCAs = pool
	}
	if l.BindPasswordFile != "" {
		data, err := os.ReadFile(l.BindPasswordFile)
		if err != nil {
			return fmt.Errorf("reading the LDAP bind password: %w", err)
		}
		cfg.BindPassword = strings.TrimRight(string(data), "\r\n")
		if cfg.BindPassword == "" {
			return fmt.Errorf("the LDAP bind password file %s is empty", l.BindPasswordFile)
		}
	}
	dir, err := ldapauth.New(cfg)
	if err != nil {
		return fmt.Errorf("ldap: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if !dir.Encrypted() && !loopback(l.URL) {
		log.Warn("LDAP passwords travel unencrypted: use an ldaps:// URL or --ldap-start-tls", "ldap_url", l.URL)
	}
	if c.Signup {
		log.Warn("web sign-up is open while LDAP is on: anyone can take a name the directory also has before its owner signs in; consider --signup=false")
	}
	p.Directory = dir
	p.DirectoryFirst = l.Order == config.LDAPOrderLDAPFirst
	return nil
}

// loopback reports whether an LDAP URL names this machine.
func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	return config.LoopbackHost(u.Hostname())
}
