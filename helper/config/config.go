// Package config owns the credential helper's configuration file. The file
// is optional: without it the helper finds each registry's Portus server by
// asking the registry (see package portusclient).
//
// # Location
//
// $PORTUS_HELPER_CONFIG if set, otherwise
// $XDG_CONFIG_HOME/docker-credential-portus/config.json, with XDG_CONFIG_HOME
// defaulting to ~/.config (%AppData% on Windows). See DefaultPath.
//
// # Format
//
// A JSON object; every field is optional and unknown fields are an error, so
// a typo does not go unnoticed:
//
//		{
//		  "registries": {
//		    "registry.example.com": {
//		      "portus": "https://portus.example.com",
//		      "ca_file": "/etc/ssl/certs/example-ca.pem",
//		      "scope": "push"
//		    }
//		  },
//		  "strict": false,
//		  "keyring_timeout": "10s",
//		  "http_timeout": "30s",
//		  "rotate_after": "720h"
//		}
//
//	  - registries: per registry, keyed by its address in any spelling docker
//	    accepts (normalised like the keyring keys, see package registryurl):
//	  - portus: the Portus server's base URL (http or https, optionally with a
//	    path prefix). Set, it is used instead of discovery.
//	  - ca_file: a PEM file of certificate authorities trusted, besides the
//	    system's, for TLS to this registry and to its Portus server. A relative
//	    path is relative to the configuration file's directory.
//	  - scope: the scope of the tokens the helper creates: "pull", "push" or
//	    "delete"; empty means the server's default ("push").
//	  - strict: when true, the helper refuses to store a password for a
//	    registry that does not delegate to Portus, instead of keeping the
//	    password itself in the keyring; and, for a registry without
//	    "portus", it sends the password to the Portus server named by the
//	    registry's WWW-Authenticate realm only when that server's host name
//	    equals the registry's, or both are the same after dropping their
//	    first label and what remains has at least two labels
//	    (registry.example.com and portus.example.com). Ports are not compared.
//	  - keyring_timeout: bound on each keyring call (Go duration; default 10s).
//	  - http_timeout: bound on each HTTP request (Go duration; default 30s).
//	  - rotate_after: when set, a get finds the token it created older than
//	    this (Go duration) and gives it a new secret at its Portus server
//	    (POST /api/v1/tokens/current/rotate) before answering; off by
//	    default. A failed rotation never fails the get (see credhelper).
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/portusproject/portus/helper/registryurl"
)

const (
	// DirName is the helper's directory under the user's config directory.
	DirName = "docker-credential-portus"
	// FileName is the configuration file's name in that directory.
	FileName = "config.json"
	// EnvPath names the environment variable that overrides DefaultPath.
	EnvPath = "PORTUS_HELPER_CONFIG"
	// DefaultKeyringTimeout is KeyringTimeout when the file sets none.
	DefaultKeyringTimeout = 10 * time.Second
	// DefaultHTTPTimeout is HTTPTimeout when the file sets none.
	DefaultHTTPTimeout = 30 * time.Second
)

// Config is the parsed configuration file, with defaults filled in.
type Config struct {
	// Path is the file it was read from; it may not exist.
	Path string
	// Registries maps a registry key (registryurl.Normalize) to its settings.
	Registries map[string]Registry
	// Strict refuses to keep a password for a registry without Portus, and
	// to send one to a discovered Portus server on an unrelated host.
	Strict bool
	// KeyringTimeout bounds each keyring call.
	KeyringTimeout time.Duration
	// HTTPTimeout bounds each HTTP request.
	HTTPTimeout time.Duration
	// RotateAfter is the age at which get rotates a token the helper
	// created; zero: never.
	RotateAfter time.Duration
}

// Registry holds the settings of one registry.
type Registry struct {
	// Portus is the base URL of its Portus server without a trailing
	// slash, or "" to discover it.
	Portus string
	// CAFile is an absolute path to extra trusted CAs (PEM), or "".
	CAFile string
	// Scope of created tokens, or "" for the server's default.
	Scope string
}

// file is the JSON shape of the configuration file.
type file struct {
	Registries     map[string]fileRegistry `json:"registries"`
	Strict         bool                    `json:"strict"`
	KeyringTimeout string                  `json:"keyring_timeout"`
	HTTPTimeout    string                  `json:"http_timeout"`
	RotateAfter    string                  `json:"rotate_after"`
}

type fileRegistry struct {
	Portus string `json:"portus"`
	CAFile string `json:"ca_file"`
	Scope  string `json:"scope"`
}

// Dir is the helper's configuration directory:
// $XDG_CONFIG_HOME/docker-credential-portus, where XDG_CONFIG_HOME defaults
// to ~/.config (to %AppData% on Windows).
func Dir() string {
	if dir := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, DirName)
	}
	if runtime.GOOS == "windows" {
		if dir, err := os.UserConfigDir(); err == nil {
			return filepath.Join(dir, DirName)
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".config", DirName)
	}
	return filepath.Join(os.TempDir(), DirName)
}

// DefaultPath is $PORTUS_HELPER_CONFIG if set, otherwise Dir()/config.json.
func DefaultPath() string {
	if p := os.Getenv(EnvPath); p != "" {
		return p
	}
	return filepath.Join(Dir(), FileName)
}

// Default returns the configuration used when there is no file.
func Default() *Config {
	return &Config{
		Registries:     map[string]Registry{},
		KeyringTimeout: DefaultKeyringTimeout,
		HTTPTimeout:    DefaultHTTPTimeout,
	}
}

// Load reads the configuration file at path. A missing file is the default
// configuration, not an error; an unreadable or invalid one is an error that
// names the file and the field. (The helper's get and list go on with
// Default after such an error; store and erase fail with it.)
func Load(path string) (*Config, error) {
	c := Default()
	c.Path = path
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named below
		}
		return nil, fmt.Errorf("configuration file %s: cannot be read: %w", path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	if err := c.parse(data); err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	return c, nil
}

func (c *Config) parse(data []byte) error {
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("not valid: %w", err)
	}
	if dec.More() {
		return errors.New("not valid: text after the JSON object")
	}
	c.Strict = f.Strict
	var err error
	if c.KeyringTimeout, err = duration("keyring_timeout", f.KeyringTimeout, DefaultKeyringTimeout); err != nil {
		return err
	}
	if c.HTTPTimeout, err = duration("http_timeout", f.HTTPTimeout, DefaultHTTPTimeout); err != nil {
		return err
	}
	if c.RotateAfter, err = duration("rotate_after", f.RotateAfter, 0); err != nil {
		return err
	}
	for name, r := range f.Registries {
		key, err := registryurl.Normalize(name)
		if err != nil {
			return fmt.Errorf("registries: %q: %w", name, err)
		}
		if _, dup := c.Registries[key]; dup {
			return fmt.Errorf("registries: %q: %s is configured twice", name, key)
		}
		reg, err := r.validate(filepath.Dir(c.Path))
		if err != nil {
			return fmt.Errorf("registries: %q: %w", name, err)
		}
		c.Registries[key] = reg
	}
	return nil
}

func (r fileRegistry) validate(dir string) (Registry, error) {
	var reg Registry
	if r.Portus != "" {
		base, err := PortusBase(r.Portus)
		if err != nil {
			return reg, fmt.Errorf("portus: %w", err)
		}
		reg.Portus = base
	}
	if r.CAFile != "" {
		reg.CAFile = r.CAFile
		if !filepath.IsAbs(reg.CAFile) {
			reg.CAFile = filepath.Join(dir, reg.CAFile)
		}
	}
	switch r.Scope {
	case "", "pull", "push", "delete":
		reg.Scope = r.Scope
	default:
		return reg, fmt.Errorf("scope %q: want pull, push or delete", r.Scope)
	}
	return reg, nil
}

// PortusBase checks that s is an absolute http(s) URL without user
// information, query or fragment, and returns it without trailing slashes.
func PortusBase(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q: want an http:// or https:// URL", u.Redacted())
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want scheme, host and optionally a path, nothing else", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func duration(field, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration such as \"10s\"", field, s)
	}
	return d, nil
}

// Registry returns the settings of the registry with key (a result of
// registryurl.Normalize); the zero Registry when it has none.
func (c *Config) Registry(key string) Registry {
	return c.Registries[key]
}
