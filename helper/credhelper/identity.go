package credhelper

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/helper/portusclient"
	"github.com/portusproject/portus/shared/apptoken"
)

// storeIdentity keeps an identity token that docker login received from a
// Portus server (Username "<token>", a ptk_ login token: the CLI drops
// the password when the token server answers with a refresh_token). The
// token is stored as it is, and so is the Portus server that issued it —
// configured, or found as store finds it for a password — so that erase
// can revoke it there. No password is involved and nothing new goes to the
// server: the realm check (checkRealm) is for passwords, and the token
// only ever goes back to where it came from.
//
// A server that cannot be found does not fail the login, which docker has
// already completed: the token is kept, and stderr says that docker logout
// will not revoke it. A keyring that refuses the token fails it, and the
// token, which nobody then holds, is revoked (see dropIdentity).
func (h *Helper) storeIdentity(cfg *config.Config, kc *keychain.Keychain, key string, creds *credentials.Credentials, old *record) error {
	rec := &record{Kind: kindIdentity, Username: creds.Username, Secret: creds.Secret, IssuedAt: time.Now().UTC()}
	portus := cfg.Registry(key).Portus
	if portus == "" {
		found, err := portusclient.Discover(context.Background(), key, h.clientOptions(cfg, key))
		if err != nil {
			h.notify("warning: the identity token for %s (%s) is stored, but its Portus server could not be found (%v): docker logout will not revoke it; revoke it on your profile page then",
				key, apptoken.Redact(creds.Secret), err)
		}
		portus = found
	}
	rec.Portus = portus
	rec.Username = h.identityOwner(cfg, key, rec)
	if err := writeRecord(kc, key, rec); err != nil {
		return h.dropIdentity(cfg, key, rec, err)
	}
	h.log.Debug("store: identity token kept", "server", key, "portus", portus, "token", apptoken.Redact(creds.Secret))
	h.retire(cfg, kc, key, old, rec)
	return nil
}

// identityOwner is the username get returns for rec, an identity token:
// its owner, asked from its Portus server, so that a later `docker login
// HOST` (no -u) finds a username and a password and logs in with the
// token itself — the CLI only reuses stored credentials that have both,
// and prompts otherwise, which fails without a terminal. Docker then
// sends the token as a password (Basic owner:token), which Portus takes
// like the refresh grant and answers without a new login token; store
// receives the same token back. Where the owner cannot be learnt, "<token>"
// stays: docker refreshes with it, and only a bare docker login prompts.
func (h *Helper) identityOwner(cfg *config.Config, key string, rec *record) string {
	if rec.Portus == "" {
		return identityUsername
	}
	client, err := portusclient.New(rec.Portus, h.clientOptions(cfg, key))
	if err != nil {
		h.log.Debug("store: identity token's owner unknown", "server", key, "err", err)
		return identityUsername
	}
	owner, err := client.Owner(context.Background(), rec.Secret)
	if err != nil {
		h.log.Debug("store: identity token's owner unknown", "server", key, "err", err)
		return identityUsername
	}
	return owner
}

// dropIdentity handles an identity token that the keyring did not take
// (werr): nobody holds it now, so it is revoked at its server, as far as
// that works, and the error says the login did not complete. What was
// stored before for key stays.
func (h *Helper) dropIdentity(cfg *config.Config, key string, rec *record, werr error) error {
	what := "its Portus server is unknown, so revoke it on your profile page"
	if rec.Portus != "" {
		what = "it was revoked again"
		client, err := portusclient.New(rec.Portus, h.clientOptions(cfg, key))
		if err == nil {
			_, err = client.RevokeBearer(context.Background(), rec.Secret)
		}
		if err != nil {
			what = fmt.Sprintf("it could not be revoked either (%v): revoke it on your profile page, %s", err, portusclient.ProfileURL(rec.Portus))
		}
	}
	return fmt.Errorf("the login to %s did not complete: the identity token docker login received (%s) could not be stored in the keyring: %w; %s. Fix the keyring problem and run `docker login %s` again",
		key, apptoken.Redact(rec.Secret), werr, what, key)
}

// revocable reports whether erase (or a store that replaces r) revokes r
// at its Portus server: a token this helper created, or an identity token
// whose server is known. A token the user gave docker login as a password
// may be in use elsewhere, and stays.
func revocable(r *record) bool {
	return r != nil && r.Portus != "" && (r.Kind == kindCreated || r.Kind == kindIdentity)
}

// revokeAt revokes rec's token at client's server, authenticating with the
// token itself: with the username for a token this helper created, with
// "Authorization: Bearer" for an identity token, whose owner the helper
// does not know.
func revokeAt(ctx context.Context, client *portusclient.Client, rec *record) (alreadyGone bool, err error) {
	if rec.Kind == kindIdentity {
		return client.RevokeBearer(ctx, rec.Secret)
	}
	return client.RevokeCurrent(ctx, rec.Username, rec.Secret)
}

// tokenLabel names rec's token in messages.
func tokenLabel(rec *record) string {
	switch {
	case rec.TokenName != "":
		return fmt.Sprintf("%q", rec.TokenName)
	case rec.Kind == kindIdentity:
		return "(the identity token of docker login)"
	}
	return "(unnamed)"
}
