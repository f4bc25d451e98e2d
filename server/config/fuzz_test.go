package config

import (
	"testing"
)

// FuzzParse loads arbitrary YAML as a configuration file: it never panics,
// and whatever it accepts still validates or fails with an error (never a
// half-applied config that panics later).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"listen: 0.0.0.0:3000\nurl: https://portus.example.com\n",
		"service: [a, b]\nmax_tokens: 7\ntoken_ttl: 10m\n",
		"unknown: 1\n", "max_tokens: many\n", "token_ttl: 5\n", "---\n", "", "[1, 2]", "url: [\n",
		"trusted_proxies: ['10.0.0.0/8']\nflush_interval: 1s\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Defaults()
		if err := Parse(data, &c); err != nil {
			return
		}
		_ = c.Validate()
	})
}
