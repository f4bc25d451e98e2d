package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/config"
)

// TestOIDCFile: the oidc section from the file, the environment and flags
// in their order, and the scopes derived from groups_claim.
func TestOIDCFile(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.OIDC.Enabled() || c.OIDC.UsernameClaim != "preferred_username" || c.OIDC.Name == "" {
		t.Errorf("oidc defaults: %+v", c.OIDC)
	}
	file := writeFile(t, `oidc:
  issuer: https://login.example.com/realms/staff
  client_id: portus
  client_secret_file: /etc/portus/oidc-secret
  name: Example Corp
  groups_claim: groups
  admin_group: registry-admins
  only: true
`)
	c = mustLoad(t, []string{"--config", file, "--oidc-name", "Keycloak"}, map[string]string{"PORTUS_OIDC_USERNAME_CLAIM": "email"})
	o := c.OIDC
	if o.Issuer != "https://login.example.com/realms/staff" || o.ClientID != "portus" || o.ClientSecretFile != "/etc/portus/oidc-secret" ||
		o.Name != "Keycloak" || o.UsernameClaim != "email" || o.GroupsClaim != "groups" || o.AdminGroup != "registry-admins" || !o.Only {
		t.Errorf("oidc: %+v", o)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if got := o.ScopeList(); !slices.Equal(got, []string{"openid", "profile", "email", "groups"}) {
		t.Errorf("scopes with a groups claim: %v", got)
	}
	o.Scopes = []string{"email", "openid", "email"}
	if got := o.ScopeList(); !slices.Equal(got, []string{"openid", "email"}) {
		t.Errorf("explicit scopes: %v", got)
	}
	file = writeFile(t, "oidc:\n  issuer: https://x\n  client_secret: hunter2\n")
	if _, _, err := load(t, []string{"--config", file}, nil, nil); err == nil || !strings.Contains(err.Error(), "client_secret") {
		t.Errorf("a secret in the file: %v, want an unknown-key error", err)
	}
}

func TestOIDCValidate(t *testing.T) {
	good := func() config.Config {
		c := config.Defaults()
		c.OIDC.Issuer = "https://login.example.com"
		c.OIDC.ClientID = "portus"
		c.OIDC.ClientSecretFile = "/etc/portus/oidc-secret"
		return c
	}
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   string
	}{
		{"not a URL", func(c *config.Config) { c.OIDC.Issuer = "login.example.com" }, "--oidc-issuer"},
		{"plain http", func(c *config.Config) { c.OIDC.Issuer = "http://login.example.com" }, "https"},
		{"query", func(c *config.Config) { c.OIDC.Issuer = "https://login.example.com/?a=b" }, "--oidc-issuer"},
		{"no client id", func(c *config.Config) { c.OIDC.ClientID = "" }, "--oidc-client-id"},
		{"no secret file", func(c *config.Config) { c.OIDC.ClientSecretFile = "" }, "--oidc-client-secret-file"},
		{"no name", func(c *config.Config) { c.OIDC.Name = " " }, "--oidc-name"},
		{"no username claim", func(c *config.Config) { c.OIDC.UsernameClaim = "" }, "--oidc-username-claim"},
		{"admin group without claim", func(c *config.Config) { c.OIDC.AdminGroup = "admins" }, "--oidc-groups-claim"},
		{"bad scope", func(c *config.Config) { c.OIDC.Scopes = []string{"openid email"} }, "--oidc-scope"},
		{"settings without an issuer", func(c *config.Config) { c.OIDC.Issuer = "" }, "oidc.issuer"},
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
	c.OIDC.Issuer = "http://127.0.0.1:5556/dex"
	if err := c.Validate(); err != nil {
		t.Errorf("a loopback http issuer: %v", err)
	}
}
