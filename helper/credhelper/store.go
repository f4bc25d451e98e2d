package credhelper

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"

	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/helper/portusclient"
	"github.com/portusproject/portus/helper/registryurl"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// Add stores credentials: the store action. See the package documentation
// for what is kept. On failure nothing new is stored.
func (h *Helper) Add(creds *credentials.Credentials) error {
	key, err := registryurl.Normalize(creds.ServerURL)
	if err != nil {
		return err
	}
	cfg, kc, err := h.setup()
	if err != nil {
		return err
	}
	old, err := readRecord(kc, key)
	switch {
	case errors.Is(err, keychain.ErrNotFound):
		old = nil
	case errors.Is(err, errBadRecord):
		h.log.Debug("store: replacing an unreadable item", "server", key)
		old = nil
	case err != nil:
		return err
	}

	// docker login without -u sends back what get returned: our own token.
	if old != nil && subtle.ConstantTimeCompare([]byte(old.Secret), []byte(creds.Secret)) == 1 {
		if old.Username == creds.Username {
			h.log.Debug("store: already stored", "server", key, "kind", old.Kind)
			return nil
		}
		updated := *old
		updated.Username = creds.Username
		return writeRecord(kc, key, &updated)
	}

	switch {
	case creds.Username == identityUsername:
		h.log.Debug("store: identity token kept as is", "server", key)
		return h.keep(cfg, kc, key, old, &record{Kind: kindIdentity, Username: creds.Username, Secret: creds.Secret})
	case apptoken.Valid(creds.Secret):
		h.log.Debug("store: application token kept as is", "server", key, "token", apptoken.Redact(creds.Secret))
		return h.keep(cfg, kc, key, old, &record{Kind: kindToken, Username: creds.Username, Secret: creds.Secret})
	case apptoken.LooksLike(creds.Secret):
		return fmt.Errorf("the secret for %s looks like a Portus application token (%s) but is not a valid one: check it for a typo", key, apptoken.Redact(creds.Secret))
	}
	return h.exchange(cfg, kc, key, creds, old)
}

// exchange trades the password in creds for an application token at the
// registry's Portus server and stores the token.
func (h *Helper) exchange(cfg *config.Config, kc *keychain.Keychain, key string, creds *credentials.Credentials, old *record) error {
	ctx := context.Background()
	opts := h.clientOptions(cfg, key)
	reg := cfg.Registry(key)

	portus := reg.Portus
	if portus == "" {
		var err error
		portus, err = portusclient.Discover(ctx, key, opts)
		if errors.Is(err, portusclient.ErrNotPortus) {
			return h.storePassword(cfg, kc, key, creds, old, err)
		}
		if err != nil {
			return fmt.Errorf("finding the Portus server of %s: %w", key, err)
		}
		h.log.Debug("store: discovered", "server", key, "portus", portus)
	} else {
		h.log.Debug("store: configured", "server", key, "portus", portus)
	}

	client, err := portusclient.New(portus, opts)
	if err != nil {
		return fmt.Errorf("configuration of %s in %s: %w", key, cfg.Path, err)
	}
	created, err := client.CreateToken(ctx, creds.Username, creds.Secret, apitypes.CreateTokenRequest{
		Name:       h.tokenName(),
		Scope:      reg.Scope,
		Replace:    true,
		CreatedVia: apitypes.ViaHelper,
	})
	if err != nil {
		return fmt.Errorf("cannot get an application token for %s, nothing was stored: %w", key, err)
	}
	rec := &record{
		Kind:      kindCreated,
		Username:  creds.Username,
		Secret:    created.Token,
		Portus:    portus,
		TokenName: created.Name,
		TokenID:   created.ID,
	}
	if err := writeRecord(kc, key, rec); err != nil {
		// Do not leave a token on the server that nobody holds.
		if _, rerr := client.RevokeCurrent(ctx, rec.Username, rec.Secret); rerr != nil {
			h.notify("warning: application token %q (%s) was created at %s but could not be stored or revoked (%v); revoke it on your profile page, %s",
				rec.TokenName, apptoken.Redact(rec.Secret), portus, rerr, client.ProfileURL())
		}
		return err
	}
	h.log.Debug("store: token stored", "server", key, "name", rec.TokenName, "token", apptoken.Redact(rec.Secret))
	h.retire(cfg, key, old, rec)
	return nil
}

// keep stores rec in place of old.
func (h *Helper) keep(cfg *config.Config, kc *keychain.Keychain, key string, old, rec *record) error {
	if err := writeRecord(kc, key, rec); err != nil {
		return err
	}
	h.retire(cfg, key, old, rec)
	return nil
}

// retire revokes old, replaced in the keyring by rec, if it is a token this
// helper created: nobody holds it any more. When rec is a token created at
// the same server for the same user under the same name, the server's
// Replace has revoked old already.
func (h *Helper) retire(cfg *config.Config, key string, old, rec *record) {
	if old == nil || old.Kind != kindCreated {
		return
	}
	if rec.Kind == kindCreated && rec.Portus == old.Portus && rec.Username == old.Username && rec.TokenName == old.TokenName {
		return
	}
	h.revoke(cfg, key, old)
}

// storePassword keeps the password of a registry that does not delegate to
// Portus, unless the configuration is strict.
func (h *Helper) storePassword(cfg *config.Config, kc *keychain.Keychain, key string, creds *credentials.Credentials, old *record, why error) error {
	if cfg.Strict {
		return fmt.Errorf("refusing to store a password for %s (\"strict\": true in %s): %w", key, cfg.Path, why)
	}
	if err := h.keep(cfg, kc, key, old, &record{Kind: kindPassword, Username: creds.Username, Secret: creds.Secret}); err != nil {
		return err
	}
	h.notify("%v; the password was stored as it is in the OS keyring (not in docker's config.json). Set \"strict\": true in %s to refuse instead.",
		why, cfg.Path)
	return nil
}

// tokenName is the name of the tokens this helper creates on this machine.
func (h *Helper) tokenName() string {
	host := h.opts.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	if host == "" {
		host = "unknown-host"
	}
	return Name + "@" + host
}
