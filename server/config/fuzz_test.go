package config

import (
	"bytes"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParse loads arbitrary YAML as the configuration file of `portus
// serve`. Whatever the file, Load never panics, and:
//   - a configuration it accepts either fails Validate or passes it again
//     unchanged (Validate only fills in derived settings once);
//   - a valid configuration written back as YAML loads to the same
//     configuration, which is valid too (what the file says is all there is);
//   - a value under a key that is no setting (where a mistaken password
//     would go) never appears in the error that refuses the file.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"listen: 0.0.0.0:3000\nurl: https://portus.example.com\n",
		"service: [a, b]\nmax_tokens: 7\ntoken_ttl: 10m\n",
		"unknown: 1\n", "max_tokens: many\n", "token_ttl: 5\n", "---\n", "", "[1, 2]", "url: [\n",
		"trusted_proxies: ['10.0.0.0/8']\nflush_interval: 1s\n",
		"url: https://portus.example.com/\nissuer: ''\nstore: etcd://10.0.0.1:2379\netcd_prefix: /p/\n",
		"ldap:\n  url: ldaps://ldap.example.org\n  base: dc=example,dc=org\n  order: ' ldap, local'\n",
		"anonymous_pull: []\nsession_idle: 1h\nsession_max_age: 2h\nlog_level: DEBUG\n",
	} {
		f.Add([]byte(s), []byte("hunter2!"))
	}
	f.Fuzz(func(t *testing.T, data, secret []byte) {
		c, err := loadYAML(t, data)
		if err == nil {
			checkValidConfig(t, c)
		}
		if len(secret) == 0 {
			return
		}
		// A hex marker cannot occur in the parser's own messages.
		marker := "s3cr3t-" + hex.EncodeToString(secret)
		if bytes.Contains(data, []byte(marker)) {
			return
		}
		doc := append([]byte("ldap:\n  bind_password: \""+marker+"\"\n"), data...)
		if _, err := loadYAML(t, doc); err == nil {
			t.Fatalf("a file with ldap.bind_password loaded:\n%s", doc)
		} else if strings.Contains(err.Error(), marker) {
			t.Fatalf("the error shows the value of ldap.bind_password: %v", err)
		}
	})
}

// loadYAML runs Load on data as the --config file, with no flags and no
// environment.
func loadYAML(t *testing.T, data []byte) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portus.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c, _, err := Load(fs, ServeFlags, []string{"--config", path}, func(string) string { return "" })
	return c, err
}

// checkValidConfig checks the properties of a configuration Load accepted.
func checkValidConfig(t *testing.T, c Config) {
	if c.Validate() != nil {
		return
	}
	again := c
	if err := again.Validate(); err != nil {
		t.Fatalf("a validated configuration fails Validate again: %v\n%+v", err, c)
	}
	if !reflect.DeepEqual(again, c) {
		t.Fatalf("Validate changed a validated configuration:\n%+v\n%+v", c, again)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatalf("marshalling a valid configuration: %v", err)
	}
	back, err := loadYAML(t, out)
	if err != nil {
		t.Fatalf("a valid configuration written back does not load: %v\n%s", err, out)
	}
	if err := back.Validate(); err != nil {
		t.Fatalf("a valid configuration written back does not validate: %v\n%s", err, out)
	}
	if again, err := yaml.Marshal(back); err != nil || !bytes.Equal(again, out) {
		t.Fatalf("a valid configuration does not survive being written back (%v):\n%s\nloads as\n%s", err, out, again)
	}
}
