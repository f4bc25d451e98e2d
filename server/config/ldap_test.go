package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
)

func TestLDAPDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.LDAP.Enabled() || c.DockerLogin != config.DockerLoginPasswordsAllowed {
		t.Errorf("LDAP on or docker_login %q by default", c.DockerLogin)
	}
	want := config.DefaultLDAP()
	if c.LDAP != want {
		t.Errorf("ldap defaults %+v, want %+v", c.LDAP, want)
	}
	if want.Filter != "(uid=%s)" || want.Timeout != 5*time.Second || want.Order != "local,ldap" || want.MailAttribute != "mail" || want.NameAttribute != "cn" {
		t.Errorf("DefaultLDAP() = %+v", want)
	}
}

// TestLDAPFile: keys missing from the ldap section keep their defaults;
// the environment beats the file and a flag beats both.
func TestLDAPFile(t *testing.T) {
	file := writeFile(t, `docker_login: tokens_only
ldap:
  url: ldaps://ldap.example.org
  ca_file: /etc/ssl/example-ca.pem
  bind_dn: cn=portus,ou=services,dc=example,dc=org
  bind_password_file: /etc/portus/ldap-password
  base: ou=people,dc=example,dc=org
  admin_group: cn=registry-admins,ou=groups,dc=example,dc=org
  timeout: 3s
  order: ldap,local
`)
	c := mustLoad(t, []string{"--config", file}, nil)
	l := c.LDAP
	if l.URL != "ldaps://ldap.example.org" || l.CAFile != "/etc/ssl/example-ca.pem" || l.BindDN != "cn=portus,ou=services,dc=example,dc=org" ||
		l.BindPasswordFile != "/etc/portus/ldap-password" || l.Base != "ou=people,dc=example,dc=org" ||
		l.AdminGroup != "cn=registry-admins,ou=groups,dc=example,dc=org" || l.Timeout != 3*time.Second || l.Order != "ldap,local" {
		t.Errorf("from the file: %+v", l)
	}
	if l.Filter != "(uid=%s)" || l.UIDAttribute != "uid" || l.MailAttribute != "mail" || l.NameAttribute != "cn" {
		t.Errorf("keys not in the file lost their defaults: %+v", l)
	}
	if c.DockerLogin != "tokens_only" {
		t.Errorf("docker_login %q", c.DockerLogin)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	c = mustLoad(t, []string{"--config", file, "--ldap-timeout", "2s"}, map[string]string{
		"PORTUS_LDAP_URL": "ldap://env.example.org", "PORTUS_LDAP_TIMEOUT": "4s", "PORTUS_DOCKER_LOGIN": "passwords_allowed",
		"PORTUS_LDAP_START_TLS": "true", "PORTUS_LDAP_FILTER": "(sAMAccountName=%s)",
	})
	if c.LDAP.URL != "ldap://env.example.org" || c.LDAP.Timeout != 2*time.Second || c.DockerLogin != "passwords_allowed" ||
		!c.LDAP.StartTLS || c.LDAP.Filter != "(sAMAccountName=%s)" || c.LDAP.Base != "ou=people,dc=example,dc=org" {
		t.Errorf("precedence: %+v docker_login %q", c.LDAP, c.DockerLogin)
	}
}

func TestLDAPUnknownKey(t *testing.T) {
	file := writeFile(t, "ldap:\n  url: ldap://x\n  bind_password: secret\n")
	if _, _, err := load(t, []string{"--config", file}, nil, nil); err == nil || !strings.Contains(err.Error(), "bind_password") {
		t.Errorf("a password in the file: %v, want an unknown-key error", err)
	}
}

func TestLDAPValidate(t *testing.T) {
	good := func() config.Config {
		c := config.Defaults()
		c.LDAP.URL = "ldap://ldap.example.org"
		c.LDAP.Base = "ou=people,dc=example,dc=org"
		return c
	}
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   string
	}{
		{"docker_login", func(c *config.Config) { c.DockerLogin = "tokens" }, "--docker-login"},
		{"scheme", func(c *config.Config) { c.LDAP.URL = "https://ldap.example.org" }, "--ldap-url"},
		{"no host", func(c *config.Config) { c.LDAP.URL = "ldap://" }, "--ldap-url"},
		{"ldaps with StartTLS", func(c *config.Config) { c.LDAP.URL = "ldaps://x"; c.LDAP.StartTLS = true }, "--ldap-start-tls"},
		{"CA file without TLS", func(c *config.Config) { c.LDAP.CAFile = "/ca.pem" }, "--ldap-ca-file"},
		{"no base", func(c *config.Config) { c.LDAP.Base = "" }, "--ldap-base"},
		{"bind DN without password file", func(c *config.Config) { c.LDAP.BindDN = "cn=x" }, "--ldap-bind-password-file"},
		{"password file without bind DN", func(c *config.Config) { c.LDAP.BindPasswordFile = "/p" }, "--ldap-bind-dn"},
		{"filter", func(c *config.Config) { c.LDAP.Filter = "(uid=alice)" }, "%s"},
		{"attribute", func(c *config.Config) { c.LDAP.UIDAttribute = "" }, "--ldap-uid-attribute"},
		{"timeout", func(c *config.Config) { c.LDAP.Timeout = 0 }, "--ldap-timeout"},
		{"order", func(c *config.Config) { c.LDAP.Order = "ldap" }, "--ldap-order"},
		{"settings without a URL", func(c *config.Config) { c.LDAP.URL = "" }, "ldap.url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.change(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want an error naming %q", err, tc.want)
			}
		})
	}
	c := good()
	c.LDAP.Order = "ldap, local"
	if err := c.Validate(); err != nil || c.LDAP.Order != config.LDAPOrderLDAPFirst {
		t.Errorf("a good configuration: %v (order %q)", err, c.LDAP.Order)
	}
}
