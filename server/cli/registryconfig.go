package cli

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/atomicfile"
	"github.com/portusproject/portus/server/registryauth"
)

// runRegistryConfig writes the key file a registry needs to verify our
// JWTs (a certificate bundle, or with --jwks a JWKS) and prints the auth:
// block of its config.yml.
func runRegistryConfig(env Env, args []string) error {
	var bundle, jwks string
	var from fromRegistryConfig
	fs := newFlags(env, "registry-config", "[--bundle FILE | --jwks FILE] [--from-registry-config FILE [--write]] [serve's flags: --url, --service, --issuer, --data, ...]")
	c, rest, err := config.Load(fs, func(fs *flag.FlagSet, c *config.Config) {
		config.ServeFlags(fs, c)
		fs.StringVar(&bundle, "bundle", "", "where to write the certificate bundle (default DATA/registry-rootcertbundle.pem)")
		fs.StringVar(&jwks, "jwks", "", "write a JWKS `FILE` for registry 3's jwks: instead of a certificate bundle (portus must then run with --registry-token-header kid)")
		from.flags(fs)
	}, args, env.Getenv)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fs.Usage()
		return errUsage
	}
	if bundle != "" && jwks != "" {
		return errors.New("--bundle and --jwks: give one, the registry reads either (see docs/operators.md \"Connect a registry\")")
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if err := from.read(); err != nil {
		return err
	}
	if err := app.PrepareDataDir(c.Data); err != nil {
		return err
	}
	issuer, err := app.LoadIssuer(c)
	if err != nil {
		return err
	}
	var block registryBlock
	if jwks != "" {
		block, err = writeJWKS(env, issuer, jwks)
	} else {
		if bundle == "" {
			bundle = filepath.Join(c.Data, app.RegistryBundleName)
		}
		block, err = writeBundle(env, issuer, bundle)
	}
	if err != nil {
		return err
	}
	text := fmt.Sprintf("# %s\nauth:\n  token:\n    realm: %s/v2/token\n    service: %s\n    issuer: %s\n    %s: %s\n",
		block.works, c.URL, yamlString(c.Services[0]), yamlString(c.Issuer), block.key, yamlString(block.file))
	if from.path != "" {
		if err := from.replaceAuth(env, text); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(env.Stderr, "Paste the block below into the registry's config.yml and restart the registry (it reads the file only at start):")
		fmt.Fprint(env.Stdout, text)
	}
	if block.warning != "" {
		fmt.Fprintln(env.Stderr, "Warning: "+block.warning)
	}
	if len(c.Services) > 1 {
		fmt.Fprintf(env.Stderr, "This server issues tokens for several services; each registry names its own in service: (one of %v).\n", c.Services)
	}
	return nil
}

// registryBlock is what the auth: block of one mode says.
type registryBlock struct {
	key, file string // the option naming the key file, and the file
	works     string // which registry versions it works with
	warning   string // why it does not fit the server's settings, if so
}

// The registry versions the end-to-end suite runs each block on
// (scripts/e2e/registry_test.go).
const (
	worksX5C  = "Works with registry 2.8.2, 3.0.0 and 3.1.0 while portus issues tokens with --registry-token-header x5c (the default)."
	worksKID  = "Works with registry 2.8.2 only while portus issues tokens with --registry-token-header kid: registry 3 needs the registry-config --jwks block for them."
	worksJWKS = "Works with registry 3.0.0 and 3.1.0 (2.8 has no jwks option); portus must issue tokens with --registry-token-header kid."
)

// writeBundle writes the signing certificate for the registry's
// rootcertbundle.
func writeBundle(env Env, issuer *registryauth.Issuer, bundle string) (registryBlock, error) {
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return registryBlock{}, err
	}
	// The bundle holds only the public certificate: readable by the
	// registry's user. A registry restarting meanwhile reads the old
	// bundle or the new one, never half of it.
	if err := atomicfile.WriteFile(bundle, issuer.Signer.CertificatePEM(), 0o644); err != nil {
		return registryBlock{}, fmt.Errorf("writing the certificate bundle: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Wrote the certificate bundle to %s (key ID %s).\n", bundle, issuer.Signer.KeyID())
	b := registryBlock{key: "rootcertbundle", file: bundle, works: worksX5C}
	if issuer.Header == registryauth.HeaderKID {
		// Registry 3 indexes bundle keys by JWK thumbprint, not by the
		// libtrust kid, and has no certificate to check without x5c.
		b.works = worksKID
	}
	return b, nil
}

// writeJWKS writes the public signing key as a JWKS for registry 3's jwks
// option, which takes a file path, read once at start (a URL makes it fail
// to start).
func writeJWKS(env Env, issuer *registryauth.Issuer, jwks string) (registryBlock, error) {
	jwks, err := filepath.Abs(jwks)
	if err != nil {
		return registryBlock{}, err
	}
	data, err := issuer.Signer.JWKS()
	if err != nil {
		return registryBlock{}, fmt.Errorf("encoding the JWKS: %w", err)
	}
	// Public keys only, like the bundle: readable by the registry's user.
	if err := atomicfile.WriteFile(jwks, data, 0o644); err != nil {
		return registryBlock{}, fmt.Errorf("writing the JWKS: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Wrote the JWKS to %s (key ID %s).\n", jwks, issuer.Signer.KeyID())
	b := registryBlock{key: "jwks", file: jwks, works: worksJWKS}
	if issuer.Header != registryauth.HeaderKID {
		// Registry 3 verifies an x5c header against rootcertbundle only,
		// with no fallback to the jwks.
		b.warning = "this configuration issues tokens with --registry-token-header x5c, which a registry with a jwks file alone refuses (\"invalid token\"): run portus serve with --registry-token-header kid (PORTUS_REGISTRY_TOKEN_HEADER=kid, registry_token_header: kid)."
	}
	return b, nil
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
