package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// registrySetup says which registry runs and how it verifies tokens.
//
// The versions read the same config.yml (version 0.1, filesystem storage,
// http.addr, auth.token) and log alike (logrus text, "listening on
// ADDR"); where they differ is the key file: 2.8 takes only a
// rootcertbundle and finds the token's libtrust kid among its keys; 3.x
// verifies an x5c header against the rootcertbundle alone, and takes
// kid-only tokens from a jwks *file* read once at start (not a URL).
type registrySetup struct {
	// version is "2.8.2" (Debian's docker-registry), "3.0.0" or "3.1.0"
	// (built by scripts/install-deps).
	version string
	// jwks makes registry-config write a JWKS and print the block with
	// jwks: and no rootcertbundle.
	jwks bool
	// header is portus' --registry-token-header: "" (x5c) or "kid". The
	// Portus server must be started with the same.
	header string
	// dir, when set, holds the registry's configuration and storage, so
	// that a registry restarted there serves the same images; default a
	// new temporary directory.
	dir string
}

func (s registrySetup) String() string {
	name := s.version
	if s.jwks {
		name += "/jwks"
	} else {
		name += "/rootcertbundle"
	}
	if s.header != "" {
		name += "/" + s.header
	}
	return name
}

// serveArgs are the flags of `portus serve` for this setup.
func (s registrySetup) serveArgs() []string {
	if s.header == "" {
		return nil
	}
	return []string{"--registry-token-header", s.header}
}

// registryConfigArgs is the `portus registry-config` command that writes
// the key file into dir.
func (s registrySetup) registryConfigArgs(dir string) []string {
	args := []string{"registry-config", "--bundle", filepath.Join(dir, "bundle.pem")}
	if s.jwks {
		args = []string{"registry-config", "--jwks", filepath.Join(dir, "jwks.json")}
	}
	return append(args, s.serveArgs()...)
}

// registryBinary returns the registry executable of version: the one that
// PORTUS_TEST_REGISTRY_<version with _ for .> names (e.g.
// PORTUS_TEST_REGISTRY_3_1_0), else Debian's docker-registry for 2.8.2 and
// for 3.x the one scripts/install-deps builds into
// ${XDG_CACHE_HOME:-$HOME/.cache}/portus-test/registry-vVERSION/registry.
// A missing one skips the test on a workstation and fails it in CI.
func registryBinary(t *testing.T, version string) string {
	t.Helper()
	env := "PORTUS_TEST_REGISTRY_" + strings.ReplaceAll(version, ".", "_")
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		return p
	}
	candidate := "docker-registry"
	if version == "2.8.2" {
		if p, err := exec.LookPath("docker-registry"); err == nil {
			return p
		}
	} else if cache, err := os.UserCacheDir(); err == nil {
		candidate = filepath.Join(cache, "portus-test", "registry-v"+version, "registry")
		if _, err := os.Stat(candidate); err == nil {
			return candidate
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("registry %s is not installed (looked for %s and $%s); scripts/install-deps installs it", version, candidate, env)
	}
	t.Skipf("registry %s is not installed (run scripts/install-deps, or set %s)", version, env)
	return ""
}
