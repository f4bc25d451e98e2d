package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/config"
)

func TestWebhooksConfig(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook.secret")
	short := filepath.Join(dir, "short.secret")
	if err := os.WriteFile(secret, []byte("  a-long-enough-secret-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(doc string) error {
		c := config.Defaults()
		c.Data = filepath.Join(dir, "data")
		if err := config.Parse([]byte(doc), &c); err != nil {
			return err
		}
		return c.Validate()
	}
	good := "webhooks:\n  - url: https://hooks.example.com/portus\n    secret_file: " + secret + "\n    events: [token.created, user.locked]\n"
	if err := parse(good); err != nil {
		t.Fatalf("a good hook: %v", err)
	}
	c := config.Defaults()
	if err := config.Parse([]byte(good), &c); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Webhooks[0].ReadSecret(); err != nil || string(got) != "a-long-enough-secret-0123" {
		t.Fatalf("ReadSecret = %q, %v; want the trimmed secret", got, err)
	}
	hook := func(url, file, events string) string {
		return "webhooks:\n  - url: " + url + "\n    secret_file: " + file + "\n    events: " + events + "\n"
	}
	for _, c := range []struct{ doc, want string }{
		{hook("hooks.example.com/portus", secret, "[token.created]"), "webhooks[0].url: must be an absolute http:// or https:// URL"},
		{hook("ftp://hooks.example.com/", secret, "[token.created]"), "webhooks[0].url: must be an absolute"},
		{hook("https://u:pw@hooks.example.com/", secret, "[token.created]"), "must not hold a user or password"},
		{hook("https://hooks.example.com/", filepath.Join(dir, "missing"), "[token.created]"), "reading secret_file of https://hooks.example.com/"},
		{hook("https://hooks.example.com/", short, "[token.created]"), "holds 5 characters: use at least 16"},
		{hook("https://hooks.example.com/", secret, "[]"), "webhooks[0].events: list at least one of token.created, token.revoked"},
		{hook("https://hooks.example.com/", secret, "[token.made]"), `"token.made" is not an event; use token.created`},
		{good + "  - url: https://hooks.example.com/portus\n    secret_file: " + secret + "\n    events: [token.revoked]\n", "listed twice"},
		{"webhooks:\n  - url: https://hooks.example.com/\n    secret: inline\n", "field secret not found"},
	} {
		err := parse(c.doc)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.doc, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("the error repeats the URL's password: %v", err)
		}
	}
}
