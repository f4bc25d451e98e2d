package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
)

func TestTokenExpiryDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	want := config.TokenExpiry{DefaultTokenLifetime: 2160 * time.Hour, ExpiredTokenKeep: 720 * time.Hour}
	if c.TokenExpiry != want {
		t.Errorf("token expiry defaults %+v, want %+v", c.TokenExpiry, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

// TestTokenExpiryFile: the keys are top-level, and a flag beats the file.
func TestTokenExpiryFile(t *testing.T) {
	file := writeFile(t, "max_token_lifetime: 8760h\ndefault_token_lifetime: 720h\ntoken_idle_expiry: 2160h\nexpired_token_keep: 48h\n")
	c := mustLoad(t, []string{"--config", file, "--token-idle-expiry", "100h"}, nil)
	want := config.TokenExpiry{MaxTokenLifetime: 8760 * time.Hour, DefaultTokenLifetime: 720 * time.Hour, TokenIdleExpiry: 100 * time.Hour, ExpiredTokenKeep: 48 * time.Hour}
	if c.TokenExpiry != want {
		t.Errorf("token expiry %+v, want %+v", c.TokenExpiry, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestTokenExpiryInvalid(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-token-lifetime", "720h", "--default-token-lifetime", "2160h"}, "--default-token-lifetime 2160h0m0s: must be at most --max-token-lifetime (720h0m0s)"},
		{[]string{"--max-token-lifetime", "10m"}, "--max-token-lifetime 10m0s: must be 0 (no maximum) or at least 1h"},
		{[]string{"--max-token-lifetime", "-1h"}, "--max-token-lifetime -1h0m0s"},
		{[]string{"--max-token-lifetime", "100000h"}, "must be at most 87600h0m0s (ten years)"},
		{[]string{"--default-token-lifetime", "0s"}, "--default-token-lifetime 0s: must be between 1h and"},
		{[]string{"--token-idle-expiry", "1s"}, "--token-idle-expiry 1s: must be 0 (never) or at least 1m"},
		{[]string{"--expired-token-keep", "0s"}, "--expired-token-keep 0s: must be at least 1m"},
	} {
		c := mustLoad(t, tc.args, nil)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: Validate() = %v, want %q", tc.args, err, tc.want)
		}
	}
}
