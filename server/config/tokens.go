package config

import (
	"flag"
	"fmt"
	"time"
)

// The expiry policy of application tokens (package account, expiry.go):
// top-level keys, like max_tokens. Zero max_token_lifetime and
// token_idle_expiry are no limit.

// TokenExpiry are the expiry settings of application tokens.
type TokenExpiry struct {
	// MaxTokenLifetime is the longest expiry a new token may have; a
	// token asked for longer, or for no expiry, is refused.
	MaxTokenLifetime time.Duration `yaml:"max_token_lifetime"`
	// DefaultTokenLifetime is the web form's preselected expiry.
	DefaultTokenLifetime time.Duration `yaml:"default_token_lifetime"`
	// TokenIdleExpiry stops tokens unused this long.
	TokenIdleExpiry time.Duration `yaml:"token_idle_expiry"`
	// ExpiredTokenKeep is how long an expired token stays listed.
	ExpiredTokenKeep time.Duration `yaml:"expired_token_keep"`
}

// Defaults of the token expiry settings.
const (
	DefaultTokenLifetime    = 2160 * time.Hour // 90 days
	DefaultExpiredTokenKeep = 720 * time.Hour  // 30 days
	// longestTokenLifetime is account.MaxTokenLifetime (ten years): an
	// expiry further ahead is refused whatever the policy.
	longestTokenLifetime = 87600 * time.Hour
)

// DefaultTokenExpiry are the token expiry settings by default.
func DefaultTokenExpiry() TokenExpiry {
	return TokenExpiry{DefaultTokenLifetime: DefaultTokenLifetime, ExpiredTokenKeep: DefaultExpiredTokenKeep}
}

// tokenExpiryFlags registers the token expiry settings.
func tokenExpiryFlags(fs *flag.FlagSet, c *Config) {
	e := &c.TokenExpiry
	fs.DurationVar(&e.MaxTokenLifetime, "max-token-lifetime", e.MaxTokenLifetime, "longest expiry of a new application token, e.g. 8760h; tokens without expiry are then refused (0: no maximum)")
	fs.DurationVar(&e.DefaultTokenLifetime, "default-token-lifetime", e.DefaultTokenLifetime, "expiry the web form preselects for a new token (at most --max-token-lifetime)")
	fs.DurationVar(&e.TokenIdleExpiry, "token-idle-expiry", e.TokenIdleExpiry, "an application token stops working after this long unused (0: never)")
	fs.DurationVar(&e.ExpiredTokenKeep, "expired-token-keep", e.ExpiredTokenKeep, "how long an expired token stays listed as Expired before it is deleted")
}

// validateTokenExpiry checks the token expiry settings.
func (c *Config) validateTokenExpiry() error {
	e := c.TokenExpiry
	switch {
	case e.MaxTokenLifetime < 0 || e.MaxTokenLifetime > 0 && e.MaxTokenLifetime < time.Hour:
		return fmt.Errorf("--max-token-lifetime %s: must be 0 (no maximum) or at least 1h, e.g. 8760h for a year", e.MaxTokenLifetime)
	case e.MaxTokenLifetime > longestTokenLifetime:
		return fmt.Errorf("--max-token-lifetime %s: must be at most %s (ten years)", e.MaxTokenLifetime, longestTokenLifetime)
	case e.DefaultTokenLifetime < time.Hour || e.DefaultTokenLifetime > longestTokenLifetime:
		return fmt.Errorf("--default-token-lifetime %s: must be between 1h and %s (ten years), e.g. 2160h for 90 days", e.DefaultTokenLifetime, longestTokenLifetime)
	case e.MaxTokenLifetime > 0 && e.DefaultTokenLifetime > e.MaxTokenLifetime:
		return fmt.Errorf("--default-token-lifetime %s: must be at most --max-token-lifetime (%s)", e.DefaultTokenLifetime, e.MaxTokenLifetime)
	case e.TokenIdleExpiry < 0 || e.TokenIdleExpiry > 0 && e.TokenIdleExpiry < time.Minute:
		return fmt.Errorf("--token-idle-expiry %s: must be 0 (never) or at least 1m, e.g. 2160h", e.TokenIdleExpiry)
	case e.ExpiredTokenKeep < time.Minute:
		return fmt.Errorf("--expired-token-keep %s: must be at least 1m, e.g. 720h for 30 days", e.ExpiredTokenKeep)
	}
	return nil
}
