package cli

import (
	"flag"
	"fmt"
	"path/filepath"

	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/atomicfile"
)

// runRegistryConfig writes the certificate bundle a registry needs to
// verify our JWTs and prints the auth: block of its config.yml.
func runRegistryConfig(env Env, args []string) error {
	var bundle string
	fs := newFlags(env, "registry-config", "[--bundle FILE] [serve's flags: --url, --service, --issuer, --data, ...]")
	c, rest, err := config.Load(fs, func(fs *flag.FlagSet, c *config.Config) {
		config.ServeFlags(fs, c)
		fs.StringVar(&bundle, "bundle", "", "where to write the certificate bundle (default DATA/registry-rootcertbundle.pem)")
	}, args, env.Getenv)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fs.Usage()
		return errUsage
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if err := app.PrepareDataDir(c.Data); err != nil {
		return err
	}
	issuer, err := app.LoadIssuer(c)
	if err != nil {
		return err
	}
	if bundle == "" {
		bundle = filepath.Join(c.Data, app.RegistryBundleName)
	}
	if bundle, err = filepath.Abs(bundle); err != nil {
		return err
	}
	// The bundle holds only the public certificate: readable by the
	// registry's user. A registry restarting meanwhile reads the old
	// bundle or the new one, never half of it.
	if err := atomicfile.WriteFile(bundle, issuer.Signer.CertificatePEM(), 0o644); err != nil {
		return fmt.Errorf("writing the certificate bundle: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Wrote the certificate bundle to %s (key ID %s).\n", bundle, issuer.Signer.KeyID())
	fmt.Fprintf(env.Stderr, "Paste the block below into the registry's config.yml (registry 3 can use jwks: %s/.well-known/jwks.json instead of rootcertbundle):\n", c.URL)
	fmt.Fprintf(env.Stdout, "auth:\n  token:\n    realm: %s/v2/token\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
		c.URL, yamlString(c.Services[0]), yamlString(c.Issuer), yamlString(bundle))
	if len(c.Services) > 1 {
		fmt.Fprintf(env.Stderr, "This server issues tokens for several services; each registry names its own in service: (one of %v).\n", c.Services)
	}
	return nil
}

// yamlString quotes s when YAML would read it as something else.
func yamlString(s string) string {
	for _, r := range s {
		if !(r == '.' || r == '-' || r == '_' || r == '/' || r == ':' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}
