package registryauth

import (
	"bytes"
	"crypto"
	"fmt"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Signing-key rotation without downtime. A registry trusts the
// certificates of its rootcertbundle (or the keys of its JWKS file), read
// once at start, so a new key is published before it signs and an old one
// stays published while tokens it signed are still valid:
//
//	rotate    stage a next key and certificate: published, not signing
//	          (then: registry-config, restart every registry)
//	activate  the next key signs; the old certificate becomes the previous
//	retire    drop the previous certificate, once every token it signed
//	          has expired (then: registry-config, restart every registry)
//
// Each step is a few compare-and-swap writes of the shared secrets (the
// model.SecretSigning* names), so it works from any replica or offline,
// and a step that lost a race to another fails without harm. Running
// servers follow through LiveSigner within ReloadInterval.

// ReloadInterval is how often a running server re-reads the signing-key
// secrets (LiveSigner): on etcd every replica signs with an activated key
// at most this long after the activation.
const ReloadInterval = 2 * time.Second

// RefusedError is a rotation step refused in the current state; its
// message says why and what to do.
type RefusedError struct{ msg string }

func (e *RefusedError) Error() string { return e.msg }

func refused(format string, args ...any) error {
	return &RefusedError{msg: fmt.Sprintf(format, args...)}
}

// KeyRotation changes the published signing keys kept by Keeper.
type KeyRotation struct {
	Keeper SecretKeeper
	// KeyFile is serve's --signing-key: the current key is that file, not
	// a stored secret, and cannot be rotated here.
	KeyFile string
	// MaxTokenLifetime is the longest lifetime of a token (the token TTL):
	// retire waits this long (plus ReloadInterval) after activation.
	MaxTokenLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (k KeyRotation) now() time.Time {
	if k.Now == nil {
		return time.Now()
	}
	return k.Now()
}

// Rotate stages a new key of the current key's algorithm and its
// certificate as the next ones. It refuses when a next key is staged.
func (k KeyRotation) Rotate() error {
	if k.KeyFile != "" {
		return refused("the signing key is the file given with --signing-key: to rotate it, replace that file and run registry-config (see docs/operators.md \"Rotating the signing key\")")
	}
	r, err := readRing(k.Keeper)
	if err != nil {
		return err
	}
	if next := optionalCert(r.nextCert); next != nil {
		kid, _ := LibtrustKeyID(next.PublicKey)
		return refused("a next signing key is already staged (key ID %s): activate it with `portus signing-key activate` first", kid)
	}
	_, alg, err := loadKey(k.Keeper, "", "", false)
	if err != nil {
		return err
	}
	key, keyPEM, err := generateKey(alg)
	if err != nil {
		return err
	}
	_, certPEM, err := newCertificate(key, k.now())
	if err != nil {
		return err
	}
	// The key first: a next key without a next certificate is not staged.
	if err := replaceSecret(k.Keeper, model.SecretSigningNextKey, r.nextKey, keyPEM); err != nil {
		return err
	}
	return replaceSecret(k.Keeper, model.SecretSigningNextCert, r.nextCert, certPEM)
}

// Activate makes the staged next key sign: the current certificate
// becomes the previous one, still published. It refuses with nothing
// staged, or while a previous certificate is still published.
func (k KeyRotation) Activate() error {
	r, err := readRing(k.Keeper)
	if err != nil {
		return err
	}
	next := optionalCert(r.nextCert)
	if next == nil {
		return refused("no next signing key is staged: run `portus signing-key rotate` first")
	}
	if !r.prevCert.none() && !bytes.Equal(r.prevCert.data, r.cert.data) {
		return refused("the previous signing certificate is still published: run `portus signing-key retire` first")
	}
	curKey, err := k.currentKey()
	if err != nil {
		return err
	}
	nextKey := curKey // a renewal: the key stays
	if !r.nextKey.none() {
		if k.KeyFile != "" {
			return refused("the staged next key cannot replace the --signing-key file")
		}
		if nextKey, err = parsePrivateKey(r.nextKey.data, model.SecretSigningNextKey); err != nil {
			return err
		}
	}
	if !fits(next, nextKey) || !validAt(next, k.now()) {
		return refused("the staged next certificate does not fit the next key or is not valid now: run `portus signing-key rotate` again after fixing %s", model.SecretSigningNextCert)
	}
	return k.activate(r, curKey, nextKey)
}

// activate writes the steps in the order readRing relies on: previous,
// activation time, key, certificate, then the next slot emptied.
func (k KeyRotation) activate(r ring, curKey, nextKey crypto.Signer) error {
	if !bytes.Equal(r.prevCert.data, r.cert.data) {
		if err := replaceSecret(k.Keeper, model.SecretSigningPreviousCert, r.prevCert, r.cert.data); err != nil {
			return err
		}
	}
	at := []byte(k.now().UTC().Format(time.RFC3339Nano))
	if err := replaceSecret(k.Keeper, model.SecretSigningActivated, r.activated, at); err != nil {
		return err
	}
	if !r.nextKey.none() {
		cur, err := readSecret(k.Keeper, model.SecretSigningKey)
		if err != nil {
			return err
		}
		if err := replaceSecret(k.Keeper, model.SecretSigningKey, cur, r.nextKey.data); err != nil {
			return err
		}
	}
	if err := replaceSecret(k.Keeper, model.SecretSigningCert, r.cert, r.nextCert.data); err != nil {
		return err
	}
	if err := replaceSecret(k.Keeper, model.SecretSigningNextCert, r.nextCert, nil); err != nil {
		return err
	}
	if r.nextKey.none() {
		return nil
	}
	return replaceSecret(k.Keeper, model.SecretSigningNextKey, r.nextKey, nil)
}

func (k KeyRotation) currentKey() (crypto.Signer, error) {
	key, _, err := loadKey(k.Keeper, "", k.KeyFile, false)
	return key, err
}

// RetireAfter is the earliest time Retire accepts without force: every
// token signed with the previous key has expired by then.
func (k KeyRotation) RetireAfter(activated time.Time) time.Time {
	if activated.IsZero() {
		return time.Time{}
	}
	ttl := k.MaxTokenLifetime
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return activated.Add(ttl + ReloadInterval)
}

// Retire stops publishing the previous certificate. Before RetireAfter it
// refuses unless force is set: tokens signed with it would be refused.
func (k KeyRotation) Retire(force bool) error {
	r, err := readRing(k.Keeper)
	if err != nil {
		return err
	}
	if r.prevCert.none() {
		return refused("no previous signing certificate is published: nothing to retire")
	}
	if after := k.RetireAfter(r.activatedAt()); !force && (after.IsZero() || k.now().Before(after)) {
		return refused("tokens signed with the previous key may be valid until %s (activation at %s plus the token lifetime): retire then, or now with --force, which makes registries refuse those tokens",
			after.Format(time.RFC3339), r.activatedAt().Format(time.RFC3339))
	}
	return replaceSecret(k.Keeper, model.SecretSigningPreviousCert, r.prevCert, nil)
}

// KeyInfo describes one published certificate.
type KeyInfo struct {
	Role      string    `json:"role"`
	KeyID     string    `json:"key_id"`
	Algorithm string    `json:"algorithm"`
	Signing   bool      `json:"signing"`
	NotAfter  time.Time `json:"not_after"`
}

// KeyStatus is what `portus signing-key status` shows.
type KeyStatus struct {
	Keys []KeyInfo `json:"keys"`
	// ActivatedAt is the last activation; RetireAfter when its previous
	// certificate may be retired. Both nil when never activated.
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetireAfter *time.Time `json:"retire_after,omitempty"`
}

// Status describes the published keys of s.
func (k KeyRotation) Status(s *Signer) KeyStatus {
	var st KeyStatus
	for i, p := range s.published {
		st.Keys = append(st.Keys, KeyInfo{Role: p.role, KeyID: p.keyID, Algorithm: p.alg, Signing: i == 0, NotAfter: p.cert.NotAfter})
	}
	if a := s.activatedAt; !a.IsZero() {
		after := k.RetireAfter(a)
		st.ActivatedAt, st.RetireAfter = &a, &after
	}
	return st
}
