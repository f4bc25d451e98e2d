package config

import (
	"flag"
	"fmt"
	"time"
)

// The device authorization grant (`docker-credential-portus login`,
// package account, device.go): how long a device code may wait for the
// browser's approval. A top-level key, like max_tokens.

// DefaultDeviceCodeTTL is RFC 8628's suggestion and what clients expect.
const DefaultDeviceCodeTTL = 10 * time.Minute

// deviceFlags registers the device-grant settings.
func deviceFlags(fs *flag.FlagSet, c *Config) {
	fs.DurationVar(&c.DeviceCodeTTL, "device-code-ttl", c.DeviceCodeTTL, "how long a device code (docker-credential-portus login) waits for approval in the browser")
}

// validateDevice checks the device-grant settings.
func (c *Config) validateDevice() error {
	if c.DeviceCodeTTL < 10*time.Second || c.DeviceCodeTTL > time.Hour {
		return fmt.Errorf("--device-code-ttl %s: must be between 10s and 1h (default %s)", c.DeviceCodeTTL, DefaultDeviceCodeTTL)
	}
	return nil
}
