package credhelper

import (
	"context"
	"fmt"
	"time"

	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/helper/portusclient"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// Rotation on get (rotate_after in the configuration): a token this helper
// created (kindCreated), or an identity token of docker login whose Portus
// server is known (kindIdentity), that is older than rotate_after gets a new secret
// at its Portus server (POST /api/v1/tokens/current/rotate, authenticated
// by the token), which replaces it in the keyring and is what get answers.
// The token keeps its id and name, so the profile page shows the same
// token. It happens at most once per process, under the registry's lock
// and then the Portus server's (the order store and erase take them in;
// a get waits for each at most keyring_timeout),
// and the record is read again under the locks: a parallel helper that
// rotated first is not undone. A rotation that fails for any reason never
// fails the get: it prints one warning on stderr and answers with the
// stored token, which still works (the server only ever replaces it on
// success, and then keeps the old secret working for its rotation_grace).
//
// The age is the record's IssuedAt, written by this helper when it stores
// or rotates a token; a record from before IssuedAt existed has no age and
// is rotated at the first get that rotate_after applies to.

// rotationDue reports whether rec is to be rotated at now under cfg.
func rotationDue(cfg *config.Config, rec *record, now time.Time) bool {
	if cfg.RotateAfter <= 0 || !revocable(rec) || !apptoken.Valid(rec.Secret) {
		return false
	}
	return rec.IssuedAt.IsZero() || now.Sub(rec.IssuedAt) >= cfg.RotateAfter
}

// maybeRotate returns rec, or the record with a new secret when rec was due
// for rotation and the rotation succeeded.
func (h *Helper) maybeRotate(kc *keychain.Keychain, key string, rec *record) *record {
	cfg, err := h.loadConfig()
	if err != nil || !rotationDue(cfg, rec, time.Now()) {
		return rec
	}
	first := false
	h.rotateOnce.Do(func() { first = true })
	if !first {
		return rec
	}
	next, err := h.rotate(cfg, kc, key)
	if err != nil {
		h.notify("warning: the token for %s is older than rotate_after (%s) and could not be rotated: %v; using the current token, which still works",
			key, cfg.RotateAfter, err)
		return rec
	}
	return next
}

// rotate rotates the token stored for key under the locks and returns the
// record now stored.
func (h *Helper) rotate(cfg *config.Config, kc *keychain.Keychain, key string) (*record, error) {
	// A get waits for the locks only briefly: whoever holds them is most
	// likely a parallel get rotating this token, seen below once it is done.
	unlock, err := kc.LockServer(key, cfg.KeyringTimeout)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := readRecord(kc, key)
	if err != nil {
		return nil, err
	}
	if !rotationDue(cfg, rec, time.Now()) {
		h.log.Debug("get: another helper rotated the token meanwhile", "server", key)
		return rec, nil
	}
	client, err := portusclient.New(rec.Portus, h.clientOptions(cfg, key))
	if err != nil {
		return nil, err
	}
	unlockPortus, err := kc.LockServer(portusLockName(client.URL()), cfg.KeyringTimeout)
	if err != nil {
		return nil, err
	}
	defer unlockPortus()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.HTTPTimeout)
	defer cancel()
	rotated, err := rotateAt(ctx, client, rec)
	if err != nil {
		return nil, err
	}
	if rotated.ID != rec.TokenID && rec.TokenID != "" {
		return nil, fmt.Errorf("the server answered the rotation with token %q, not %q", rotated.ID, rec.TokenID)
	}
	next := *rec
	next.Secret, next.TokenID, next.IssuedAt = rotated.Token, rotated.ID, time.Now().UTC()
	if err := writeRecord(kc, key, &next); err != nil {
		// The server made the new secret; the stored one works only for
		// the grace. Answer with the new one and say what to do.
		h.notify("warning: the token for %s was rotated, and the keyring did not take the new secret (%v): the stored one stops working after the server's rotation grace; run `docker login %s` again",
			key, err, key)
		return &next, nil
	}
	h.log.Debug("get: token rotated", "server", key, "name", next.TokenName, "token", apptoken.Redact(next.Secret))
	h.share(kc, key, &next)
	return &next, nil
}

// rotateAt rotates rec's token at client's server, authenticating as
// revokeAt does: Basic with the username for a token this helper created,
// Bearer for an identity token.
func rotateAt(ctx context.Context, client *portusclient.Client, rec *record) (*apitypes.CreatedToken, error) {
	if rec.Kind == kindIdentity {
		return client.RotateBearer(ctx, rec.Secret)
	}
	return client.RotateCurrent(ctx, rec.Username, rec.Secret)
}
