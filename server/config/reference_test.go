package config_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/server/config"
)

// regenerate is the command that rewrites docs/configuration.md.
const regenerate = "go run ./server/cmd/portus config reference > docs/configuration.md"

// TestReferenceComplete: every flag of ServeFlags is bound to a yaml key,
// and every yaml key has a flag or a doc tag, so the reference names each
// setting with what it means.
func TestReferenceComplete(t *testing.T) {
	settings, problems := config.Settings()
	for _, p := range problems {
		t.Errorf("undocumented setting: %s", p)
	}
	for _, s := range settings {
		if strings.TrimSpace(s.Usage) == "" {
			t.Errorf("setting %s (--%s) has no meaning: give its flag a usage or its field a doc tag", s.Key, s.Flag)
		}
	}
	if len(settings) < 40 {
		t.Errorf("only %d settings found; the reflection lost some", len(settings))
	}
}

// TestDocsConfigurationCurrent: docs/configuration.md is exactly what
// `portus config reference` prints.
func TestDocsConfigurationCurrent(t *testing.T) {
	var want bytes.Buffer
	if err := config.Reference(&want); err != nil {
		t.Fatalf("config.Reference: %v", err)
	}
	testutil.GeneratedFileCurrent(t, filepath.Join("..", "..", "docs", "configuration.md"), want.String(), regenerate)
}
