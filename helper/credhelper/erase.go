package credhelper

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/helper/portusclient"
	"github.com/portusproject/portus/helper/registryurl"
	"github.com/portusproject/portus/shared/apptoken"
)

// Delete erases the credentials of serverURL: the erase action. A token this
// helper created is revoked on its Portus server first; if that fails it is
// still deleted here, and stderr says which token remains valid and where to
// revoke it. Erasing what is not stored succeeds: docker logout calls erase
// up to four times, with different spellings of one address. The whole
// action holds the server's lock (see withServer).
func (h *Helper) Delete(serverURL string) error {
	key, err := registryurl.Normalize(serverURL)
	if err != nil {
		h.log.Debug("erase: not a registry address", "error", err)
		return nil
	}
	return h.withServer("erase", key, func(cfg *config.Config, kc *keychain.Keychain, rec *record) error {
		return h.erase(cfg, kc, key, rec)
	})
}

// erase is the erase action for key once its lock is held; rec is what was
// stored for it, or nil.
func (h *Helper) erase(cfg *config.Config, kc *keychain.Keychain, key string, rec *record) error {
	if rec != nil {
		switch {
		case revocable(rec):
			h.revoke(cfg, kc, key, rec)
		case rec.Kind == kindToken:
			h.notify("the application token %s for %s was given to docker login, not created by this helper: it was removed from this machine but not revoked, and remains valid",
				apptoken.Redact(rec.Secret), key)
		}
	}
	existed, err := kc.Remove(key)
	if err != nil {
		return err
	}
	h.log.Debug("erase", "server", key, "existed", existed)
	return nil
}

// revoke revokes rec's token (revocable: one this helper created, or an
// identity token) for key, at the server that issued it, unless another
// registry's record holds the same token (the registries of one Portus
// server share the helper's token, see share): then it stays valid for
// them. On failure it tells the user which token remains valid
// and where to revoke it. It holds the Portus server's lock (lockPortus).
func (h *Helper) revoke(cfg *config.Config, kc *keychain.Keychain, key string, rec *record) {
	if rec.Portus == "" {
		return
	}
	name := tokenLabel(rec)
	warn := func(err error) {
		owner := fmt.Sprintf(" of %q", rec.Username)
		if rec.Kind == kindIdentity {
			owner = ""
		}
		h.notify("warning: could not revoke application token %s (%s)%s at %s: %v. It was removed from this machine but remains valid until you revoke it on your profile page, %s",
			name, apptoken.Redact(rec.Secret), owner, rec.Portus, err, portusclient.ProfileURL(rec.Portus))
	}
	unlock, err := h.lockPortus(cfg, kc, rec.Portus)
	if err != nil {
		warn(err)
		return
	}
	defer unlock()
	if others := holders(kc, key, rec); len(others) > 0 {
		h.log.Debug("not revoked: other registries use the token", "server", key, "others", others, "token", apptoken.Redact(rec.Secret))
		return
	}
	client, err := portusclient.New(rec.Portus, h.clientOptions(cfg, key))
	if err != nil {
		warn(err)
		return
	}
	gone, err := revokeAt(context.Background(), client, rec)
	if err != nil {
		warn(err)
		return
	}
	h.log.Debug("revoked", "server", key, "name", name, "token", apptoken.Redact(rec.Secret), "already_gone", gone)
}

// holders lists the registries other than key whose stored record holds
// rec's token. When the keyring cannot tell, it lists none: the token is
// then revoked, as it would be without sharing.
func holders(kc *keychain.Keychain, key string, rec *record) []string {
	servers, err := kc.Servers()
	if err != nil {
		return nil
	}
	var out []string
	for _, other := range servers {
		if other == key {
			continue
		}
		if r, err := readRecord(kc, other); err == nil && r.Kind == rec.Kind && r.Portus == rec.Portus &&
			subtle.ConstantTimeCompare([]byte(r.Secret), []byte(rec.Secret)) == 1 {
			out = append(out, other)
		}
	}
	return out
}
