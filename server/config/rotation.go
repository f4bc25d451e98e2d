package config

import (
	"flag"
	"fmt"
	"time"
)

// Token rotation (package account, rotate.go): how long a secret that a
// rotation replaced keeps working. A top-level key, like max_tokens.

// DefaultRotationGrace is rotation_grace when nothing sets it: long
// enough for a running CI job or docker push to finish with the old
// secret.
const DefaultRotationGrace = 10 * time.Minute

// maxRotationGrace bounds rotation_grace: an old secret that works for
// longer than a day is no longer replaced in any useful sense.
const maxRotationGrace = 24 * time.Hour

// rotationFlags registers --rotation-grace.
func rotationFlags(fs *flag.FlagSet, c *Config) {
	fs.DurationVar(&c.RotationGrace, "rotation-grace", c.RotationGrace, "how long a token's old secret keeps working after the token is rotated (0s: not at all)")
}

// validateRotation checks rotation_grace.
func (c *Config) validateRotation() error {
	if c.RotationGrace < 0 || c.RotationGrace > maxRotationGrace {
		return fmt.Errorf("--rotation-grace %s: must be between 0s (the old secret stops at once) and %s", c.RotationGrace, maxRotationGrace)
	}
	return nil
}
