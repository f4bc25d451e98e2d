package credhelper

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/helper/portusclient"
	"github.com/portusproject/portus/helper/registryurl"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// Add stores credentials: the store action. See the package documentation
// for what is kept. On failure nothing new is stored. The whole action, from
// reading what is stored to writing its replacement, holds the server's
// lock (see withServer).
func (h *Helper) Add(creds *credentials.Credentials) error {
	key, err := registryurl.Normalize(creds.ServerURL)
	if err != nil {
		return err
	}
	return h.withServer("store", key, func(cfg *config.Config, kc *keychain.Keychain, old *record) error {
		return h.store(cfg, kc, key, creds, old)
	})
}

// store is the store action for key once its lock is held; old is what was
// stored for it, or nil.
func (h *Helper) store(cfg *config.Config, kc *keychain.Keychain, key string, creds *credentials.Credentials, old *record) error {
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
	case creds.Username == identityUsername && apptoken.Valid(creds.Secret):
		return h.storeIdentity(cfg, kc, key, creds, old)
	case creds.Username == identityUsername:
		// Another registry's identity token (Docker Hub's, say): nothing
		// to revoke it with.
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

	portus := cfg.Registry(key).Portus
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
		if err := h.checkRealm(cfg, key, portus); err != nil {
			return err
		}
	} else {
		h.log.Debug("store: configured", "server", key, "portus", portus)
	}

	client, err := portusclient.New(portus, opts)
	if err != nil {
		return fmt.Errorf("configuration of %s in %s: %w", key, cfg.Path, err)
	}
	rec, err := h.createAndStore(ctx, cfg, kc, client, key, creds, old)
	if err != nil {
		return err
	}
	h.retire(cfg, kc, key, old, rec)
	return nil
}

// createAndStore exchanges the password for a token at client's Portus
// server, stores it for key, and hands it to the other registries whose
// token the exchange replaced (see share), all under the server's lock (see
// lockPortus).
func (h *Helper) createAndStore(ctx context.Context, cfg *config.Config, kc *keychain.Keychain, client *portusclient.Client,
	key string, creds *credentials.Credentials, old *record) (*record, error) {
	unlock, err := h.lockPortus(cfg, kc, client.URL())
	if err != nil {
		return nil, fmt.Errorf("cannot get an application token for %s, nothing was stored: %w", key, err)
	}
	defer unlock()
	created, err := client.CreateToken(ctx, creds.Username, creds.Secret, apitypes.CreateTokenRequest{
		Name:       tokenName(h.hostname()),
		Scope:      cfg.Registry(key).Scope,
		Replace:    true,
		CreatedVia: apitypes.ViaHelper,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot get an application token for %s, nothing was stored: %w", key, err)
	}
	rec := &record{
		Kind:      kindCreated,
		Username:  creds.Username,
		Secret:    created.Token,
		Portus:    client.URL(),
		TokenName: created.Name,
		TokenID:   created.ID,
		IssuedAt:  time.Now().UTC(),
	}
	if err := writeRecord(kc, key, rec); err != nil {
		return nil, h.abandon(ctx, client, kc, key, old, rec, err, "docker login "+key)
	}
	h.log.Debug("store: token stored", "server", key, "name", rec.TokenName, "token", apptoken.Redact(rec.Secret))
	h.share(kc, key, rec)
	return rec, nil
}

// lockPortus takes the lock of the Portus server at base for this and
// every other process, waiting up to serverLockWait, and returns the
// function that releases it. It is held while a token is created and
// stored (createAndStore) and while one is revoked (revoke): the tokens
// this helper creates at one server for one user all have the same name,
// so the registries of one Portus server share one token (see share), and
// these must not interleave across registries. It is always taken after a
// registry's lock (lockServer), never before, and never twice at once.
func (h *Helper) lockPortus(cfg *config.Config, kc *keychain.Keychain, base string) (func(), error) {
	return kc.LockServer(portusLockName(base), serverLockWait(cfg))
}

// portusLockName is the lock name of the Portus server at base.
func portusLockName(base string) string { return "portus " + base }

// share gives rec, just stored for key, to every other registry whose
// stored token it replaced: one this helper created at the same Portus
// server for the same user under the same name, which the server revoked
// on creating rec (Replace). Without it, logging in to a second registry
// of a Portus server would leave the first with a dead token. Failures are
// reported on stderr: the login itself succeeded.
func (h *Helper) share(kc *keychain.Keychain, key string, rec *record) {
	servers, err := kc.Servers()
	if err != nil {
		h.notify("warning: the token stored for other registries of %s was replaced by this login, and the keyring could not be read to update them (%v): if docker then fails to authenticate to one of them, run `docker login` for it again",
			rec.Portus, err)
		return
	}
	for _, other := range servers {
		if other == key {
			continue
		}
		updated, err := kc.Update(other, func(v string) (string, bool) {
			stored, err := parseRecord(other, v)
			if err != nil || !replacedByServer(stored, rec) || stored.Secret == rec.Secret {
				return "", false
			}
			next := *stored
			next.Secret, next.TokenID, next.IssuedAt = rec.Secret, rec.TokenID, rec.IssuedAt
			b, err := next.encode()
			return b, err == nil
		})
		switch {
		case err != nil:
			h.notify("warning: the token stored for %s was replaced on the server by this login, and the new one could not be stored for it (%v): run `docker login %s` again",
				other, err, other)
		case updated:
			h.log.Debug("store: token shared", "server", other, "with", key, "token", apptoken.Redact(rec.Secret))
		}
	}
}

// abandon cleans up after an exchange whose new token the keyring did not
// take (werr), and returns the error that says so. By then the server has
// made the new token and, when it has the name of the stored one, revoked
// that one (Replace). So, as far as it can: it revokes the new token, which
// nobody holds; it removes the stored record when the server replaced it,
// rather than leave a dead token in the keyring; and it tells the user that
// the login did not complete and to run retry (the command that logs in
// again) once the keyring works.
func (h *Helper) abandon(ctx context.Context, client *portusclient.Client, kc *keychain.Keychain, key string, old, rec *record, werr error, retry string) error {
	var what []string
	if gone, err := client.RevokeCurrent(ctx, rec.Username, rec.Secret); err != nil {
		what = append(what, fmt.Sprintf("the new application token %q (%s) could not be revoked either (%v): revoke it on your profile page, %s",
			rec.TokenName, apptoken.Redact(rec.Secret), err, client.ProfileURL()))
	} else {
		h.log.Debug("store: unstorable token revoked", "server", key, "token", apptoken.Redact(rec.Secret), "already_gone", gone)
		what = append(what, "the new application token was revoked again")
	}
	switch {
	case replacedByServer(old, rec):
		if _, err := kc.Remove(key); err != nil {
			what = append(what, fmt.Sprintf("the token stored before for %s was replaced on the server and no longer works, but it could not be removed from the keyring (%v): remove it with `docker logout %s`",
				key, err, key))
		} else {
			what = append(what, fmt.Sprintf("the token stored before for %s was replaced on the server and no longer works, so it was removed from the keyring", key))
		}
	case old != nil:
		what = append(what, fmt.Sprintf("the credentials stored before for %s are unchanged", key))
	}
	return fmt.Errorf("the login to %s did not complete: the new application token could not be stored in the keyring: %w; %s. Fix the keyring problem and run `%s` again",
		key, werr, strings.Join(what, "; "), retry)
}

// replacedByServer reports whether creating rec made the server revoke old:
// both tokens this helper created at the same server for the same user
// under the same name, and the creation asked to replace that name.
func replacedByServer(old, rec *record) bool {
	return old != nil && old.Kind == kindCreated && rec.Kind == kindCreated &&
		rec.Portus == old.Portus && rec.Username == old.Username && rec.TokenName == old.TokenName
}

// keep stores rec in place of old.
func (h *Helper) keep(cfg *config.Config, kc *keychain.Keychain, key string, old, rec *record) error {
	if err := writeRecord(kc, key, rec); err != nil {
		return err
	}
	h.retire(cfg, kc, key, old, rec)
	return nil
}

// retire revokes old, replaced in the keyring by rec, if it is revocable
// (a token this helper created, or an identity token of a known Portus
// server) and no other registry holds it (see revoke). When rec is a token
// created at the same server for the same user under the same name, the
// server's Replace has revoked old already.
func (h *Helper) retire(cfg *config.Config, kc *keychain.Keychain, key string, old, rec *record) {
	if !revocable(old) || replacedByServer(old, rec) {
		return
	}
	h.revoke(cfg, kc, key, old)
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

// hostname names this machine in token names.
func (h *Helper) hostname() string {
	host := h.opts.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	if host == "" {
		host = "unknown-host"
	}
	return host
}

const (
	// maxTokenName is the server's limit on token names, in characters.
	maxTokenName = 64
	// tokenNamePrefix starts the name of every token this helper creates.
	tokenNamePrefix = Name + "@"
	// tokenNameHashLen is how many hex digits of the hostname's SHA-256 a
	// shortened token name ends with.
	tokenNameHashLen = 8
)

// tokenName is the name of the tokens this helper creates on the machine
// called host: "docker-credential-portus@" + host, within the server's 64
// printable characters. When host has more than the 39 characters left, or
// characters that are not printable (replaced by '_'), the name keeps its
// first 30 characters and ends with "~" and the first 8 hex digits of the
// SHA-256 of the whole host name: for
// "build-agent-0017.ci-runners.europe-west-1.corp.example.com",
// "docker-credential-portus@build-agent-0017.ci-runners.eu~bfe6e92b". The
// name depends only on host, so every login from one machine replaces the
// same token, and two long host names that share their first 30
// characters still get different names.
func tokenName(host string) string {
	room := maxTokenName - utf8.RuneCountInString(tokenNamePrefix)
	var b strings.Builder
	n, changed := 0, false
	for _, r := range host { // invalid UTF-8 comes out as U+FFFD: changed
		if !unicode.IsPrint(r) || r == utf8.RuneError {
			r, changed = '_', true
		}
		b.WriteRune(r)
		n++
	}
	if n <= room && !changed {
		return tokenNamePrefix + host
	}
	sum := sha256.Sum256([]byte(host))
	suffix := "~" + hex.EncodeToString(sum[:])[:tokenNameHashLen]
	kept := []rune(b.String())
	if keep := room - len(suffix); len(kept) > keep {
		kept = kept[:keep]
	}
	return tokenNamePrefix + string(kept) + suffix
}
