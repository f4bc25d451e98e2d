package config

import (
	"flag"
	"fmt"
	"time"
)

// Login tokens: what a `docker login` with a password leaves behind
// (package account, logintokens.go). Top-level keys, like max_tokens.

// Defaults of the login-token settings.
const (
	DefaultMaxLoginTokens   = 10
	DefaultLoginTokenIdle   = 720 * time.Hour  // 30 days
	DefaultLoginTokenMaxAge = 2160 * time.Hour // 90 days
)

// loginTokenFlags registers the login-token settings.
func loginTokenFlags(fs *flag.FlagSet, c *Config) {
	fs.IntVar(&c.MaxLoginTokens, "max-login-tokens", c.MaxLoginTokens, "most login tokens (left by docker login with a password) a user holds; at the cap the least recently used is revoked")
	fs.DurationVar(&c.LoginTokenIdle, "login-token-idle", c.LoginTokenIdle, "a login token stops working after this long unused (at least 1m)")
	fs.DurationVar(&c.LoginTokenMaxAge, "login-token-max-age", c.LoginTokenMaxAge, "a login token stops working this long after the login that made it, however used (at least --login-token-idle)")
}

// validateLoginTokens checks the login-token settings.
func (c *Config) validateLoginTokens() error {
	if c.MaxLoginTokens < 1 {
		return fmt.Errorf("--max-login-tokens %d: must be at least 1", c.MaxLoginTokens)
	}
	if c.LoginTokenIdle < time.Minute {
		return fmt.Errorf("--login-token-idle %s: must be at least 1m", c.LoginTokenIdle)
	}
	if c.LoginTokenMaxAge < c.LoginTokenIdle {
		return fmt.Errorf("--login-token-max-age %s: must be at least --login-token-idle (%s)", c.LoginTokenMaxAge, c.LoginTokenIdle)
	}
	return nil
}
