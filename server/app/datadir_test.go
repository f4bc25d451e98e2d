package app

import (
	"testing"
)

func TestRedactPath(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/tokens/ptk_abcDEF0123456789abcDEF0123456789abcDEF": "/api/v1/tokens/ptk_[redacted]",
		"/api/v1/tokens/0123abcd":                                   "/api/v1/tokens/0123abcd",
		"/x/ptk_short/ptk_Other":                                    "/x/ptk_[redacted]/ptk_[redacted]",
	} {
		if got := redactPath(in); got != want {
			t.Errorf("redactPath(%q) = %q, want %q", in, got, want)
		}
	}
}
