package model

import (
	"strings"
	"testing"
)

// A hook's name never shows the path or query, where receivers keep
// their secrets, and still tells two hooks of one host apart.
func TestWebhookNameHidesPathAndQuery(t *testing.T) {
	slack := "https://hooks.slack.example/services/T000/B000/s3cr3tKEY"
	other := "https://hooks.slack.example/services/T000/B000/0therKEY"
	for _, u := range []string{slack, other, "https://h.example/x?token=s3cr3tKEY", "https://user:s3cr3tKEY@h.example/"} {
		if n := WebhookName(u); strings.Contains(n, "s3cr3tKEY") || strings.Contains(n, "0therKEY") {
			t.Errorf("WebhookName(%q) = %q shows the secret", u, n)
		}
	}
	if WebhookName(slack) == WebhookName(other) {
		t.Error("two hooks of one host have one name")
	}
	if got := WebhookName("http://127.0.0.1:8080"); got != "http://127.0.0.1:8080" {
		t.Errorf("a URL without path is named %q, want itself", got)
	}
}
