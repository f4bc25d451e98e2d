package config_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
)

func load(t *testing.T, args []string, env map[string]string, register func(*flag.FlagSet, *config.Config)) (config.Config, []string, error) {
	t.Helper()
	if register == nil {
		register = config.ServeFlags
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return config.Load(fs, register, args, func(k string) string { return env[k] })
}

func mustLoad(t *testing.T, args []string, env map[string]string) config.Config {
	t.Helper()
	c, rest, err := load(t, args, env, nil)
	if err != nil {
		t.Fatalf("Load(%v, %v): %v", args, env, err)
	}
	if len(rest) != 0 {
		t.Fatalf("rest %v", rest)
	}
	return c
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portus.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Listen != "localhost:3000" || c.URL != "http://localhost:3000" || c.Data != "./portus-data" || c.MaxTokens != 5 ||
		!slices.Equal(c.Services, []string{"registry"}) || c.FlushInterval != 60*time.Second || c.TokenTTL != 5*time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "max_tokens: 7\nservice: [file-a, file-b]\nlisten: 0.0.0.0:4000\n")
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		max      int
		services []string
		listen   string
	}{
		{"defaults", nil, nil, 5, []string{"registry"}, "localhost:3000"},
		{"file via --config", []string{"--config", file}, nil, 7, []string{"file-a", "file-b"}, "0.0.0.0:4000"},
		{"file via PORTUS_CONFIG", nil, map[string]string{"PORTUS_CONFIG": file}, 7, []string{"file-a", "file-b"}, "0.0.0.0:4000"},
		{"env beats file", []string{"--config", file},
			map[string]string{"PORTUS_MAX_TOKENS": "8", "PORTUS_SERVICE": "env-a,env-b,env-c"}, 8, []string{"env-a", "env-b", "env-c"}, "0.0.0.0:4000"},
		{"env beats default", nil, map[string]string{"PORTUS_MAX_TOKENS": "8", "PORTUS_SERVICE": "env-a"}, 8, []string{"env-a"}, "localhost:3000"},
		{"flags beat env and file", []string{"--config", file, "--max-tokens", "9", "--service", "flag-a", "--service=flag-b"},
			map[string]string{"PORTUS_MAX_TOKENS": "8", "PORTUS_SERVICE": "env-a"}, 9, []string{"flag-a", "flag-b"}, "0.0.0.0:4000"},
		{"flags beat defaults", []string{"--service", "flag-a", "--max-tokens=1"}, nil, 1, []string{"flag-a"}, "localhost:3000"},
		{"flag for one, env for the other", []string{"--max-tokens", "9", "--config", file},
			map[string]string{"PORTUS_SERVICE": "env-a"}, 9, []string{"env-a"}, "0.0.0.0:4000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mustLoad(t, c.args, c.env)
			if got.MaxTokens != c.max || !slices.Equal(got.Services, c.services) || got.Listen != c.listen {
				t.Errorf("max %d services %v listen %s; want %d %v %s", got.MaxTokens, got.Services, got.Listen, c.max, c.services, c.listen)
			}
		})
	}
}

func TestFileSettings(t *testing.T) {
	file := writeFile(t, `
listen: 127.0.0.1:5000
url: https://portus.example.com/
data: /var/lib/portus
tls_cert: /etc/portus/cert.pem
tls_key: /etc/portus/key.pem
audit_keep: 1000
failure_audit_keep: 300
log_level: debug
trusted_proxies: [10.0.0.0/8]
flush_interval: 30s
token_ttl: 10m
signing_alg: RS256
registry_token_header: kid
`)
	c := mustLoad(t, []string{"--config", file}, nil)
	if c.Listen != "127.0.0.1:5000" || c.Data != "/var/lib/portus" || c.TLSCert != "/etc/portus/cert.pem" ||
		c.AuditKeep != 1000 || c.FailureAuditKeep != 300 || c.LogLevel != "debug" || !slices.Equal(c.TrustedProxies, []string{"10.0.0.0/8"}) ||
		c.FlushInterval != 30*time.Second || c.TokenTTL != 10*time.Minute || c.SigningAlg != "RS256" ||
		c.RegistryTokenHeader != "kid" {
		t.Errorf("from the file: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.URL != "https://portus.example.com" || c.Issuer != "portus.example.com" {
		t.Errorf("Validate derived url %q issuer %q", c.URL, c.Issuer)
	}
}

func TestUnknownYAMLKey(t *testing.T) {
	file := writeFile(t, "max_tokens: 3\nmax_tokenz: 4\n")
	_, _, err := load(t, []string{"--config", file}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "max_tokenz") {
		t.Fatalf("unknown key: %v, want an error naming max_tokenz", err)
	}
	if !strings.Contains(err.Error(), file) {
		t.Errorf("the error %q does not name the file", err)
	}
	var c config.Config
	if err := config.Parse([]byte("listen: [a, b]\n"), &c); err == nil {
		t.Error("a list for listen was accepted")
	}
	if _, _, err := load(t, []string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, nil, nil); err == nil {
		t.Error("a missing config file was accepted")
	}
}

func TestBadValues(t *testing.T) {
	if _, _, err := load(t, nil, map[string]string{"PORTUS_MAX_TOKENS": "many"}, nil); err == nil || !strings.Contains(err.Error(), "PORTUS_MAX_TOKENS") {
		t.Errorf("bad env value: %v, want an error naming PORTUS_MAX_TOKENS", err)
	}
	if _, _, err := load(t, []string{"--max-tokens", "many"}, nil, nil); err == nil {
		t.Error("bad flag value accepted")
	}
	if _, _, err := load(t, []string{"--no-such-flag"}, nil, nil); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*config.Config)
		want   string
	}{
		{"url without scheme", func(c *config.Config) { c.URL = "portus.example.com" }, "--url"},
		{"url with host:port only", func(c *config.Config) { c.URL = "localhost:3000" }, "--url"},
		{"ftp url", func(c *config.Config) { c.URL = "ftp://portus.example.com" }, "--url"},
		{"url without host", func(c *config.Config) { c.URL = "https://" }, "--url"},
		{"url not parsable", func(c *config.Config) { c.URL = "http://[::1" }, "--url"},
		{"tls-cert without tls-key", func(c *config.Config) { c.TLSCert = "cert.pem" }, "--tls-key"},
		{"tls-key without tls-cert", func(c *config.Config) { c.TLSKey = "key.pem" }, "--tls-cert"},
		{"token-ttl under 60s", func(c *config.Config) { c.TokenTTL = 59 * time.Second }, "--token-ttl"},
		{"max-tokens 0", func(c *config.Config) { c.MaxTokens = 0 }, "--max-tokens"},
		{"no service", func(c *config.Config) { c.Services = nil }, "--service"},
		{"bad signing alg", func(c *config.Config) { c.SigningAlg = "HS256" }, "--signing-alg"},
		{"bad token header", func(c *config.Config) { c.RegistryTokenHeader = "jwk" }, "--registry-token-header"},
		{"bad log level", func(c *config.Config) { c.LogLevel = "loud" }, "--log-level"},
		{"flush interval too long", func(c *config.Config) { c.FlushInterval = 61 * time.Second }, "--flush-interval"},
		{"empty data", func(c *config.Config) { c.Data = "" }, "--data"},
	} {
		cfg := config.Defaults()
		c.change(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
	for _, change := range []func(*config.Config){
		func(c *config.Config) { c.TokenTTL = 60 * time.Second },
		func(c *config.Config) { c.TLSCert, c.TLSKey = "cert.pem", "key.pem" },
		func(c *config.Config) { c.URL = "https://portus.example.com:8443/" },
	} {
		cfg := config.Defaults()
		change(&cfg)
		if err := cfg.Validate(); err != nil {
			t.Errorf("valid config refused: %v", err)
		}
	}
}

func TestAdminCommandFlags(t *testing.T) {
	var user string
	register := func(fs *flag.FlagSet, c *config.Config) {
		config.DataFlags(fs, c)
		fs.StringVar(&user, "user", "", "")
	}
	// Flags may follow the arguments; PORTUS_DATA is read, a command's own
	// flags are not settings and never come from the environment.
	c, rest, err := load(t, []string{"create", "alice", "--data", "/srv/portus", "--user", "bob", "--", "--not-a-flag"},
		map[string]string{"PORTUS_DATA": "/env/data", "PORTUS_USER": "mallory"}, register)
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "/srv/portus" || user != "bob" || !slices.Equal(rest, []string{"create", "alice", "--not-a-flag"}) {
		t.Errorf("data %q user %q rest %v", c.Data, user, rest)
	}
	user = ""
	c, _, err = load(t, []string{"list"}, map[string]string{"PORTUS_DATA": "/env/data", "PORTUS_USER": "mallory"}, register)
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != "/env/data" || user != "" {
		t.Errorf("from the environment: data %q user %q", c.Data, user)
	}
}

func TestRegistryTokenHeader(t *testing.T) {
	if c := mustLoad(t, nil, nil); c.RegistryTokenHeader != "x5c" {
		t.Errorf("default %q, want x5c (today's tokens)", c.RegistryTokenHeader)
	}
	if c := mustLoad(t, nil, map[string]string{"PORTUS_REGISTRY_TOKEN_HEADER": "kid"}); c.RegistryTokenHeader != "kid" {
		t.Errorf("from the environment: %q", c.RegistryTokenHeader)
	}
	if c := mustLoad(t, []string{"--registry-token-header", "kid"}, nil); c.RegistryTokenHeader != "kid" {
		t.Errorf("from the flag: %q", c.RegistryTokenHeader)
	}
}
