package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/portusproject/portus/server/registryauth"
)

// signingKeys carries out `portus signing-key` on the store's shared
// secrets (api.SigningKeys). Every step ends with a re-read of the
// secrets, so that this process switches at once; the other replicas
// follow within registryauth.ReloadInterval (followSigningKeys).
type signingKeys struct {
	core *Core
}

func (k signingKeys) rotation() registryauth.KeyRotation {
	return registryauth.KeyRotation{Keeper: k.core.Store, KeyFile: k.core.Config.SigningKey, MaxTokenLifetime: k.core.Config.TokenTTL}
}

func (k signingKeys) Status() (registryauth.KeyStatus, error) {
	issuer, err := k.core.Issuer()
	if err != nil {
		return registryauth.KeyStatus{}, err
	}
	if _, err := issuer.Live.Refresh(); err != nil {
		return registryauth.KeyStatus{}, fmt.Errorf("reading the signing keys: %w", err)
	}
	return k.rotation().Status(issuer.CurrentSigner()), nil
}

func (k signingKeys) Rotate() (registryauth.KeyStatus, error) {
	return k.step(k.rotation().Rotate)
}

func (k signingKeys) Activate() (registryauth.KeyStatus, error) {
	return k.step(k.rotation().Activate)
}

func (k signingKeys) Retire(force bool) (registryauth.KeyStatus, error) {
	return k.step(func() error { return k.rotation().Retire(force) })
}

func (k signingKeys) step(do func() error) (registryauth.KeyStatus, error) {
	// The issuer first: on a fresh store it creates the key to rotate.
	if _, err := k.core.Issuer(); err != nil {
		return registryauth.KeyStatus{}, err
	}
	if err := do(); err != nil {
		return registryauth.KeyStatus{}, err
	}
	return k.Status()
}

// followSigningKeys re-reads the signing-key secrets every
// registryauth.ReloadInterval until ctx ends, so that this replica signs
// with a key activated elsewhere within that interval. A failed read
// keeps the current signer and is logged once until reads work again.
func followSigningKeys(ctx context.Context, live *registryauth.LiveSigner, log *slog.Logger) {
	tick := time.NewTicker(registryauth.ReloadInterval)
	defer tick.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		changed, err := live.Refresh()
		switch {
		case err != nil && err.Error() != lastErr:
			lastErr = err.Error()
			log.Warn("reading the signing keys failed; signing with the keys read before", "err", err)
		case err == nil && changed:
			lastErr = ""
			log.Info("the signing keys changed", "key_id", live.Current().KeyID())
		case err == nil:
			lastErr = ""
		}
	}
}
