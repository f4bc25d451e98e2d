package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// OIDCConfig is the `oidc:` section: signing in to the web UI through a
// company's OpenID Connect provider (Okta, Entra ID, Keycloak, Dex…).
// It is off while Issuer is empty. Each key is also a flag --oidc-KEY and
// a variable PORTUS_OIDC_KEY; the client secret is only ever read from the
// file client_secret_file.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; its discovery document is at
	// ISSUER/.well-known/openid-configuration.
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecretFile are Portus' registration at the
	// provider; the redirect URI to register is URL/signin/oidc/callback.
	ClientID         string `yaml:"client_id"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// Name labels the button: "Sign in with NAME".
	Name string `yaml:"name"`
	// Scopes are asked for; empty means openid, profile and email, plus
	// groups when GroupsClaim is set. openid is always added.
	Scopes []string `yaml:"scopes"`
	// UsernameClaim is the ID-token claim that is the Portus username.
	UsernameClaim string `yaml:"username_claim"`
	// GroupsClaim is the claim listing the user's groups; with AdminGroup,
	// members of that group are administrators, checked at every sign-in.
	GroupsClaim string `yaml:"groups_claim"`
	AdminGroup  string `yaml:"admin_group"`
	// Only hides password sign-in from the web UI.
	Only bool `yaml:"only"`
}

// DefaultOIDC is the `oidc:` section when nothing is set: off.
func DefaultOIDC() OIDCConfig {
	return OIDCConfig{Name: "SSO", UsernameClaim: "preferred_username"}
}

// Enabled reports whether OpenID Connect sign-in is on.
func (o OIDCConfig) Enabled() bool { return o.Issuer != "" }

// ScopeList is the scopes to ask for: Scopes or the default, with openid
// first and each scope once.
func (o OIDCConfig) ScopeList() []string {
	want := o.Scopes
	if len(want) == 0 {
		want = []string{"profile", "email"}
		if o.GroupsClaim != "" {
			want = append(want, "groups")
		}
	}
	out := []string{"openid"}
	for _, s := range want {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// oidcFlags registers the OpenID Connect settings.
func oidcFlags(fs *flag.FlagSet, c *Config) {
	o := &c.OIDC
	fs.StringVar(&o.Issuer, "oidc-issuer", o.Issuer, "sign in to the web UI with this OpenID Connect provider (issuer `URL`; empty: off)")
	fs.StringVar(&o.ClientID, "oidc-client-id", o.ClientID, "client `ID` of Portus at the provider")
	fs.StringVar(&o.ClientSecretFile, "oidc-client-secret-file", o.ClientSecretFile, "`FILE` holding the client secret (never a setting)")
	fs.StringVar(&o.Name, "oidc-name", o.Name, "provider `NAME` on the sign-in button (\"Sign in with NAME\")")
	fs.Var(&listValue{&o.Scopes}, "oidc-scope", "`SCOPE` to ask for (repeatable; default openid profile email, plus groups with --oidc-groups-claim)")
	fs.StringVar(&o.UsernameClaim, "oidc-username-claim", o.UsernameClaim, "ID-token `CLAIM` that is the username")
	fs.StringVar(&o.GroupsClaim, "oidc-groups-claim", o.GroupsClaim, "ID-token `CLAIM` listing the user's groups")
	fs.StringVar(&o.AdminGroup, "oidc-admin-group", o.AdminGroup, "`GROUP` whose members are administrators (checked at every sign-in; needs --oidc-groups-claim)")
	fs.BoolVar(&o.Only, "oidc-only", o.Only, "hide password sign-in from the web UI: everyone signs in with the provider")
}

// validateOIDC checks the oidc section.
func (c *Config) validateOIDC() error {
	o := &c.OIDC
	if !o.Enabled() {
		if o.ClientID != "" || o.ClientSecretFile != "" || o.AdminGroup != "" || o.Only {
			return errors.New("oidc: client_id, client_secret_file, admin_group and only need oidc.issuer (--oidc-issuer), the provider to sign in with")
		}
		return nil
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--oidc-issuer %q: must be the provider's issuer URL, such as https://login.example.com/realms/staff (no query)", o.Issuer)
	}
	if u.Scheme == "http" && !LoopbackHost(u.Hostname()) {
		return fmt.Errorf("--oidc-issuer %q: must be https (plain http is allowed for localhost only)", o.Issuer)
	}
	if o.ClientID == "" {
		return errors.New("--oidc-client-id: give the client ID that the provider assigned to Portus")
	}
	if o.ClientSecretFile == "" {
		return errors.New("--oidc-client-secret-file: name the file holding the client secret (the secret itself is never a setting)")
	}
	if strings.TrimSpace(o.Name) == "" {
		return errors.New("--oidc-name: must not be empty; it labels the button \"Sign in with NAME\"")
	}
	if o.UsernameClaim == "" {
		return errors.New("--oidc-username-claim: must not be empty (the default is preferred_username)")
	}
	if o.AdminGroup != "" && o.GroupsClaim == "" {
		return errors.New("--oidc-admin-group needs --oidc-groups-claim: the claim in which the provider lists groups, such as groups")
	}
	for _, s := range o.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\"\\") {
			return fmt.Errorf("--oidc-scope %q: a scope is one word, such as email", s)
		}
	}
	return nil
}

// LoopbackHost reports whether host names this machine — localhost or a
// loopback address — where plain http (an OpenID provider under test,
// an etcd or LDAP server beside Portus) cannot be overheard.
func LoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
