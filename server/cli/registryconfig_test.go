package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var keyIDLine = regexp.MustCompile(`\(key ID (\S+)\)`)

// TestRegistryConfigBlocks checks the two blocks registry-config prints:
// the rootcertbundle one by default and the jwks one with --jwks, each
// saying which registry versions it works with, and neither advising a
// JWKS URL, which registry 3 cannot read.
func TestRegistryConfigBlocks(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	base := []string{"registry-config", "--data", data, "--url", "https://portus.example.com"}

	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	r := ok(t, "", append(base, "--bundle", bundle)...)
	if !strings.Contains(r.stdout, "    rootcertbundle: "+bundle+"\n") || strings.Contains(r.stdout, "jwks") ||
		!strings.Contains(r.stdout, "2.8.2, 3.0.0 and 3.1.0") {
		t.Errorf("default block:\n%s", r.stdout)
	}
	if mode(t, bundle) != 0o644 {
		t.Errorf("bundle mode %v, want 0644", mode(t, bundle))
	}

	// With the kid header a bundle serves registry 2.8 only.
	r = ok(t, "", append(base, "--bundle", bundle, "--registry-token-header", "kid")...)
	if !strings.Contains(r.stdout, "rootcertbundle: ") || !strings.Contains(r.stdout, "2.8.2 only") {
		t.Errorf("bundle block with the kid header:\n%s", r.stdout)
	}

	jwks := filepath.Join(t.TempDir(), "jwks.json")
	r = ok(t, "", append(base, "--jwks", jwks)...)
	if !strings.Contains(r.stdout, "    jwks: "+jwks+"\n") || strings.Contains(r.stdout, "rootcertbundle") ||
		!strings.Contains(r.stdout, "3.0.0 and 3.1.0") || !strings.Contains(r.stdout, "--registry-token-header kid") {
		t.Errorf("jwks block:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "Warning: ") {
		t.Errorf("no warning that the x5c header does not fit a jwks file:\n%s", r.stderr)
	}
	if mode(t, jwks) != 0o644 {
		t.Errorf("JWKS mode %v, want 0644", mode(t, jwks))
	}
	raw, err := os.ReadFile(jwks)
	if err != nil {
		t.Fatal(err)
	}
	// The registry finds the tokens' kid, the key ID registry-config
	// reports, in the file.
	kid := keyIDLine.FindStringSubmatch(r.stderr)
	if !json.Valid(raw) || kid == nil || !strings.Contains(string(raw), `"kid":"`+kid[1]+`"`) {
		t.Errorf("JWKS %s does not hold the key ID of\n%s", raw, r.stderr)
	}

	r = ok(t, "", append(base, "--jwks", jwks, "--registry-token-header", "kid")...)
	if strings.Contains(r.stderr, "Warning") {
		t.Errorf("warning with the kid header:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "well-known") {
		t.Errorf("registry-config advises a JWKS URL:\n%s%s", r.stdout, r.stderr)
	}

	if r := portus(t, "", append(base, "--jwks", jwks, "--bundle", bundle)...); r.code == 0 || !strings.Contains(r.stderr, "--jwks") {
		t.Errorf("--bundle with --jwks: exit %d\n%s", r.code, r.stderr)
	}
}
