package config

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/portusproject/portus/server/model"
)

// WebhookConfig is one entry of the `webhooks:` list, a file-only setting
// (a list of objects has no flag form): where to POST which events, signed
// with the secret in SecretFile.
type WebhookConfig struct {
	URL        string   `yaml:"url"`
	SecretFile string   `yaml:"secret_file"`
	Events     []string `yaml:"events"`
}

// minWebhookSecret is the shortest secret accepted: receivers check the
// signature with it, so it must not be guessable.
const minWebhookSecret = 16

// ReadSecret reads the hook's signing secret, surrounding white space
// trimmed.
func (w WebhookConfig) ReadSecret() ([]byte, error) {
	data, err := os.ReadFile(w.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("webhooks: reading secret_file of %s: %w", w.name(), err)
	}
	secret := bytes.TrimSpace(data)
	if len(secret) < minWebhookSecret {
		return nil, fmt.Errorf("webhooks: the secret_file %s of %s holds %d characters: use at least %d (e.g. `openssl rand -hex 32 > %s`)",
			w.SecretFile, w.name(), len(secret), minWebhookSecret, w.SecretFile)
	}
	return secret, nil
}

// name is the hook as messages show it (model.WebhookName: never the
// path or query, which may hold the receiver's secret).
func (w WebhookConfig) name() string { return model.WebhookName(w.URL) }

// validateWebhooks checks each hook: an absolute http(s) URL without
// credentials, given once; a readable secret file; known event names.
func (c *Config) validateWebhooks() error {
	seen := map[string]bool{}
	for i, w := range c.Webhooks {
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("webhooks[%d].url: must be an absolute http:// or https:// URL such as https://hooks.example.com/portus", i)
		}
		if u.User != nil {
			return fmt.Errorf("webhooks[%d].url: must not hold a user or password; receivers check the %s header instead", i, "X-Portus-Signature")
		}
		if seen[w.URL] {
			return fmt.Errorf("webhooks[%d].url: %s is listed twice; give each URL once with all its events", i, w.name())
		}
		seen[w.URL] = true
		if w.SecretFile == "" {
			return fmt.Errorf("webhooks[%d].secret_file: name the file holding the signing secret", i)
		}
		if _, err := w.ReadSecret(); err != nil {
			return err
		}
		if len(w.Events) == 0 {
			return fmt.Errorf("webhooks[%d].events: list at least one of %s", i, strings.Join(model.EventTypes, ", "))
		}
		for _, e := range w.Events {
			if !slices.Contains(model.EventTypes, e) {
				return fmt.Errorf("webhooks[%d].events: %q is not an event; use %s", i, e, strings.Join(model.EventTypes, ", "))
			}
		}
	}
	return nil
}
