// Package config owns the settings of `portus serve` and of the admin
// commands: their defaults, the YAML file, the PORTUS_* environment
// variables and the command-line flags, applied in that order so that a
// flag beats the environment, which beats the file, which beats the default.
//
// Every setting has one name: the flag --max-tokens is PORTUS_MAX_TOKENS in
// the environment and max_tokens in the file. Secrets are never settings:
// passwords come from stdin, keys from files.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration of a Portus server.
type Config struct {
	Listen    string `yaml:"listen"`
	URL       string `yaml:"url"`
	Data      string `yaml:"data"`
	TLSCert   string `yaml:"tls_cert"`
	TLSKey    string `yaml:"tls_key"`
	MaxTokens int    `yaml:"max_tokens"`
	AuditKeep int    `yaml:"audit_keep"`
	// FailureAuditKeep caps the failed-authentication entries, kept apart
	// from AuditKeep's history so that outsiders cannot flush it.
	FailureAuditKeep int    `yaml:"failure_audit_keep"`
	LogLevel         string `yaml:"log_level"`
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For is
	// believed. Empty: the client IP is the TCP peer.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// FlushInterval is how often batched last-used times are written.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Login tokens (logintokens.go): their cap and lifetimes.
	MaxLoginTokens   int           `yaml:"max_login_tokens"`
	LoginTokenIdle   time.Duration `yaml:"login_token_idle"`
	LoginTokenMaxAge time.Duration `yaml:"login_token_max_age"`
	// Application tokens' expiry policy (tokens.go): top-level keys.
	TokenExpiry `yaml:",inline"`
	// DeviceCodeTTL is how long a device code waits for approval (device.go).
	DeviceCodeTTL time.Duration `yaml:"device_code_ttl"`
	// RotationGrace is how long a rotated token's old secret works (rotation.go).
	RotationGrace time.Duration `yaml:"rotation_grace"`

	// Web UI.
	Signup        bool          `yaml:"signup"`
	SessionIdle   time.Duration `yaml:"session_idle"`
	SessionMaxAge time.Duration `yaml:"session_max_age"`

	// Registry token endpoint.
	Services []string `yaml:"service"`
	Issuer   string   `yaml:"issuer"`
	// RegistryHosts are what users type after docker login, for the web
	// UI's help (registryhosts.go); default: DockerHosts.
	RegistryHosts []string `yaml:"registry_hosts"`
	// Registry policy (see registryauth.Policy).
	UserNamespaces    bool          `yaml:"user_namespaces"`
	AuthenticatedPull bool          `yaml:"authenticated_pull"`
	AnonymousPull     []string      `yaml:"anonymous_pull"`
	TokenTTL          time.Duration `yaml:"token_ttl"`
	SigningAlg        string        `yaml:"signing_alg"`
	SigningKey        string        `yaml:"signing_key"`
	// RegistryTokenHeader is how tokens name their key: "x5c" (the
	// certificate, for a rootcertbundle) or "kid" (the key ID alone, for
	// registry 3's jwks file); see registryauth.TokenHeader.
	RegistryTokenHeader string `yaml:"registry_token_header"`

	// Passwords: an LDAP directory (ldap.go) and whether docker login may
	// use them ("passwords_allowed" or "tokens_only").
	LDAP        LDAPConfig `yaml:"ldap"`
	DockerLogin string     `yaml:"docker_login"`

	// Web sign-in through an OpenID Connect provider (oidc.go).
	OIDC OIDCConfig `yaml:"oidc"`

	// Who may read /metrics (metrics.go).
	Metrics MetricsConfig `yaml:"metrics"`

	// Where the state lives (store.go): the data directory's bbolt file
	// or an etcd cluster shared by several replicas.
	Store      string `yaml:"store"`
	EtcdPrefix string `yaml:"etcd_prefix"`
	EtcdCA     string `yaml:"etcd_ca"`
	EtcdCert   string `yaml:"etcd_cert"`
	EtcdKey    string `yaml:"etcd_key"`
	// EtcdSecretsKeyFile holds the key that encrypts the shared secrets
	// in etcd; EtcdUsername and EtcdPasswordFile sign in to etcd's auth.
	EtcdSecretsKeyFile string `yaml:"etcd_secrets_key_file"`
	EtcdUsername       string `yaml:"etcd_username"`
	EtcdPasswordFile   string `yaml:"etcd_password_file"`

	// Webhooks are told about token and user events (webhooks.go).
	Webhooks []WebhookConfig `yaml:"webhooks" doc:"list of {url, secret_file, events}: POST each event listed in events (at least one of token.created, token.revoked, token.rotated, token.reuse, token.expiring, token.expired, user.locked) as JSON signed with X-Portus-Signature: sha256=HMAC(secret, body); file only (docs/webhooks.md)"`
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Listen:            "localhost:3000",
		URL:               "http://localhost:3000",
		Data:              "./portus-data",
		MaxTokens:         5,
		AuditKeep:         100_000,
		FailureAuditKeep:  10_000,
		LogLevel:          "info",
		FlushInterval:     60 * time.Second,
		Signup:            true,
		SessionIdle:       12 * time.Hour,
		SessionMaxAge:     7 * 24 * time.Hour,
		Services:          []string{"registry"},
		UserNamespaces:    true,
		AuthenticatedPull: true,
		TokenTTL:          5 * time.Minute,
		SigningAlg:        "",
		LDAP:              DefaultLDAP(),
		OIDC:              DefaultOIDC(),
		DockerLogin:       DockerLoginPasswordsAllowed,
		Store:             StoreBolt,
		EtcdPrefix:        DefaultEtcdPrefix,

		// Tokens carry the certificate, as before the setting existed.
		RegistryTokenHeader: "x5c",

		MaxLoginTokens:   DefaultMaxLoginTokens,
		LoginTokenIdle:   DefaultLoginTokenIdle,
		LoginTokenMaxAge: DefaultLoginTokenMaxAge,
		TokenExpiry:      DefaultTokenExpiry(),
		DeviceCodeTTL:    DefaultDeviceCodeTTL,

		RotationGrace: DefaultRotationGrace,
	}
}

// EnvPrefix starts every environment variable of Portus.
const EnvPrefix = "PORTUS_"

// DataFlags registers only --data and --config, for admin commands.
func DataFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Data, "data", c.Data, "`DIR` holding the database (portus.db), the pepper, the signing key and the admin socket (admin.sock)")
	StoreFlags(fs, c)
}

// ServeFlags registers every server setting on fs, bound to c.
func ServeFlags(fs *flag.FlagSet, c *Config) {
	DataFlags(fs, c)
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to listen on (`HOST:PORT`)")
	fs.StringVar(&c.URL, "url", c.URL, "public URL of this server, as registries and browsers reach it")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "serve HTTPS with this certificate `FILE` (needs --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "private key `FILE` for --tls-cert")
	fs.IntVar(&c.MaxTokens, "max-tokens", c.MaxTokens, "most application tokens a user may hold")
	fs.IntVar(&c.AuditKeep, "audit-keep", c.AuditKeep, "history entries of the audit log to keep: user, token, session and admin actions (older ones are pruned)")
	fs.IntVar(&c.FailureAuditKeep, "failure-audit-keep", c.FailureAuditKeep, "failed-authentication entries of the audit log to keep, apart from the history, so that a flood of failures prunes only these")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.Var(&listValue{&c.TrustedProxies}, "trusted-proxy", "believe X-Forwarded-For from this `ADDRESS` or CIDR (repeatable)")
	fs.DurationVar(&c.FlushInterval, "flush-interval", c.FlushInterval, "how often batched last-used times are written (at most 60s)")
	fs.BoolVar(&c.Signup, "signup", c.Signup, "let people create accounts on the web sign-up page (--signup=false: only administrators create accounts)")
	fs.DurationVar(&c.SessionIdle, "session-idle", c.SessionIdle, "end a web session after this long without a request (at least 1m)")
	fs.DurationVar(&c.SessionMaxAge, "session-max-age", c.SessionMaxAge, "end a web session this long after sign-in, however active (at least --session-idle)")
	fs.Var(&listValue{&c.Services}, "service", "registry `NAME` (the registry's auth.token.service) to issue tokens for (repeatable)")
	fs.StringVar(&c.Issuer, "issuer", c.Issuer, "iss of issued JWTs (default: the host of --url)")
	fs.BoolVar(&c.UserNamespaces, "user-namespaces", c.UserNamespaces, "users may pull, push and delete below their own name (NAME/...)")
	fs.BoolVar(&c.AuthenticatedPull, "authenticated-pull", c.AuthenticatedPull, "signed-in users may pull repositories without a / in their name")
	fs.Var(&listValue{&c.AnonymousPull}, "anonymous-pull", "anyone may pull repositories matching this `PATTERN` (path.Match, e.g. library/*; repeatable)")
	fs.DurationVar(&c.TokenTTL, "token-ttl", c.TokenTTL, "lifetime of registry JWTs (at least 60s)")
	fs.StringVar(&c.SigningAlg, "signing-alg", c.SigningAlg, "ES256 or RS256 for a new signing key (default: the existing key's, or ES256)")
	fs.StringVar(&c.SigningKey, "signing-key", c.SigningKey, "PEM private key `FILE` to sign JWTs with (default: generated in the data directory)")
	fs.StringVar(&c.RegistryTokenHeader, "registry-token-header", c.RegistryTokenHeader, "x5c (tokens carry the certificate: registries with rootcertbundle) or kid (the key ID only: registry 3 with a jwks file from registry-config --jwks)")
	ldapFlags(fs, c)
	oidcFlags(fs, c)
	metricsFlags(fs, c)
	loginTokenFlags(fs, c)
	tokenExpiryFlags(fs, c)
	deviceFlags(fs, c)
	rotationFlags(fs, c)
	registryHostsFlags(fs, c)
}

// Load builds the configuration for a command: defaults, then the YAML file
// (--config or PORTUS_CONFIG), then PORTUS_* variables, then the flags in
// args. register binds the command's flags; getenv is os.Getenv in
// production. It returns the remaining arguments.
func Load(fs *flag.FlagSet, register func(*flag.FlagSet, *Config), args []string, getenv func(string) string) (Config, []string, error) {
	c := Defaults()
	var file string
	register(fs, &c)
	fs.StringVar(&file, "config", getenv(EnvPrefix+"CONFIG"), "YAML configuration `FILE`")
	if _, err := parseInterspersed(fs, args); err != nil {
		return c, nil, err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	// Start again from the defaults, so that the file, the environment and
	// the flags apply in order of precedence.
	fresh := Defaults()
	c = fresh
	if file != "" {
		if err := loadFile(file, &c); err != nil {
			return c, nil, err
		}
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if explicit[f.Name] || !settingNames[f.Name] || envErr != nil {
			return
		}
		name := EnvName(f.Name)
		if v := getenv(name); v != "" {
			if lv, ok := f.Value.(*listValue); ok {
				*lv.list = nil
			}
			for _, part := range splitEnv(f, v) {
				if err := f.Value.Set(part); err != nil {
					envErr = fmt.Errorf("%s=%q: %w", name, v, err)
					return
				}
			}
		}
	})
	if envErr != nil {
		return c, nil, envErr
	}
	for name := range explicit {
		if lv, ok := fs.Lookup(name).Value.(*listValue); ok {
			*lv.list = nil
		}
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return c, nil, err
	}
	return c, rest, nil
}

// settingNames are the flags that are settings; a command's own flags
// (such as --user) are not read from the environment.
var settingNames = func() map[string]bool {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	c := Defaults()
	ServeFlags(fs, &c)
	names := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { names[f.Name] = true })
	return names
}()

func loadFile(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading configuration file: %w", err)
	}
	if err := Parse(data, c); err != nil {
		return fmt.Errorf("configuration file %s: %w", path, err)
	}
	return nil
}

// Parse applies a YAML document to c. Unknown keys are errors, so that a
// typo does not silently leave a default in force.
func Parse(data []byte, c *Config) error {
	if len(data) > 1<<20 {
		return errors.New("larger than 1 MiB")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks the settings of `portus serve` and fills in derived ones.
func (c *Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: must be an absolute http:// or https:// URL such as https://portus.example.com", c.URL)
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.Issuer == "" {
		c.Issuer = u.Host
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither")
	}
	if c.MaxTokens < 1 {
		return fmt.Errorf("--max-tokens %d: must be at least 1", c.MaxTokens)
	}
	if c.TokenTTL < 60*time.Second {
		return fmt.Errorf("--token-ttl %s: must be at least 60s (registries allow 60 s of clock skew)", c.TokenTTL)
	}
	if c.FlushInterval <= 0 || c.FlushInterval > 60*time.Second {
		return fmt.Errorf("--flush-interval %s: must be between 1ns and 60s", c.FlushInterval)
	}
	if c.SessionIdle < time.Minute {
		return fmt.Errorf("--session-idle %s: must be at least 1m", c.SessionIdle)
	}
	if c.SessionMaxAge < c.SessionIdle {
		return fmt.Errorf("--session-max-age %s: must be at least --session-idle (%s)", c.SessionMaxAge, c.SessionIdle)
	}
	if len(c.Services) == 0 {
		return errors.New("--service: name at least one registry service")
	}
	switch c.SigningAlg {
	case "", "ES256", "RS256":
	default:
		return fmt.Errorf("--signing-alg %q: must be ES256 or RS256", c.SigningAlg)
	}
	switch c.RegistryTokenHeader {
	case "x5c", "kid":
	default:
		return fmt.Errorf("--registry-token-header %q: must be x5c or kid", c.RegistryTokenHeader)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: must be debug, info, warn or error", c.LogLevel)
	}
	if err := c.validateLDAP(); err != nil {
		return err
	}
	if err := c.validateOIDC(); err != nil {
		return err
	}
	if err := c.validateMetrics(); err != nil {
		return err
	}
	if err := c.validateLoginTokens(); err != nil {
		return err
	}
	if err := c.validateTokenExpiry(); err != nil {
		return err
	}
	if err := c.validateDevice(); err != nil {
		return err
	}
	if err := c.validateRotation(); err != nil {
		return err
	}
	if err := c.validateRegistryHosts(); err != nil {
		return err
	}
	if err := c.validateWebhooks(); err != nil {
		return err
	}
	if c.Data == "" {
		return errors.New("--data: the data directory must not be empty")
	}
	return c.validateStore()
}

// Paths inside the data directory. The shared secrets beside the database
// (the pepper, the signing key) are named by model.SecretNames and managed
// by the store.
func (c Config) DBPath() string     { return filepath.Join(c.Data, "portus.db") }
func (c Config) SocketPath() string { return filepath.Join(c.Data, "admin.sock") }
