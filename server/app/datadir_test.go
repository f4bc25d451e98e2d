package app

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"
)

// Two servers starting at once on a new data directory agree on one pepper.
func TestLoadPepperConcurrentFirstStart(t *testing.T) {
	for round := 0; round < 20; round++ {
		path := filepath.Join(t.TempDir(), "pepper")
		peppers := make([][]byte, 8)
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range peppers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				peppers[i], errs[i] = LoadPepper(path)
			}()
		}
		wg.Wait()
		for i := range peppers {
			if errs[i] != nil {
				t.Fatalf("round %d: %v", round, errs[i])
			}
			if !bytes.Equal(peppers[i], peppers[0]) || len(peppers[i]) != pepperLen {
				t.Fatalf("round %d: processes disagree on the pepper", round)
			}
		}
	}
}

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
