package registryauth

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Roles of the published certificates.
const (
	// RoleCurrent signs the tokens.
	RoleCurrent = "current"
	// RoleNext is staged by rotate (or a renewal) and signs after activate.
	RoleNext = "next"
	// RolePrevious signed before the last activation; retire drops it.
	RolePrevious = "previous"
)

// secret is one stored shared secret; an empty one counts as none
// (model.SecretSigningNextKey explains why).
type secret struct {
	data   []byte
	exists bool
}

func (s secret) none() bool { return len(s.data) == 0 }

// old is what ReplaceSharedSecret must be given to replace s.
func (s secret) old() []byte {
	if !s.exists {
		return nil
	}
	if s.data == nil {
		return []byte{}
	}
	return s.data
}

// ring is one read of the signing-key secrets.
type ring struct {
	nextKey, nextCert, cert, prevCert, activated secret
}

// readRing reads the secrets in an order that makes a read during an
// activation consistent (rotate.go writes the key, then the certificate,
// then empties the next one): the next certificate is read before the
// current one, so a key already switched always finds its certificate in
// one of the two.
func readRing(keeper SecretKeeper) (ring, error) {
	var r ring
	for _, f := range []struct {
		name string
		dst  *secret
	}{
		{model.SecretSigningNextKey, &r.nextKey},
		{model.SecretSigningNextCert, &r.nextCert},
		{model.SecretSigningCert, &r.cert},
		{model.SecretSigningPreviousCert, &r.prevCert},
		{model.SecretSigningActivated, &r.activated},
	} {
		s, err := readSecret(keeper, f.name)
		if err != nil {
			return ring{}, err
		}
		*f.dst = s
	}
	return r, nil
}

func readSecret(keeper SecretKeeper, name string) (secret, error) {
	data, err := keeper.SharedSecret(name, nil)
	if errors.Is(err, model.ErrNotFound) {
		return secret{}, nil
	}
	if err != nil {
		return secret{}, fmt.Errorf("reading %s: %w", name, err)
	}
	return secret{data: data, exists: true}, nil
}

// replaceSecret stores next (empty: none) if the secret is still s.
func replaceSecret(keeper SecretKeeper, name string, s secret, next []byte) error {
	if next == nil {
		next = []byte{}
	}
	stored, err := keeper.ReplaceSharedSecret(name, s.old(), next)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if !bytes.Equal(stored, next) {
		return refused("the signing keys were changed by another command meanwhile: check `portus signing-key status` and try again")
	}
	return nil
}

// activatedAt parses the recorded activation time (zero: none).
func (r ring) activatedAt() time.Time {
	t, err := time.Parse(time.RFC3339Nano, string(r.activated.data))
	if err != nil {
		return time.Time{}
	}
	return t
}

// optionalCert parses a certificate secret; none or an unreadable one is nil.
func optionalCert(s secret) *x509.Certificate {
	if s.none() {
		return nil
	}
	c, err := parseCertificate(s.data)
	if err != nil {
		return nil
	}
	return c
}

func fits(c *x509.Certificate, key crypto.Signer) bool {
	if c == nil {
		return false
	}
	pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public())
}

func validAt(c *x509.Certificate, at time.Time) bool {
	return !at.Before(c.NotBefore) && at.Before(c.NotAfter)
}

// signerFromRing picks the certificate that signs with key and publishes
// the others beside it. With write, a missing or unusable certificate is
// replaced and one expiring soon renewed into the next slot; without, the
// ring is only read (LiveSigner) and a ring whose certificates do not fit
// the key is an error.
func signerFromRing(keeper SecretKeeper, key crypto.Signer, alg string, r ring, at time.Time, write bool) (*Signer, error) {
	cur, next, prev := optionalCert(r.cert), optionalCert(r.nextCert), optionalCert(r.prevCert)
	var (
		signing = publishedCert{role: RoleCurrent, cert: cur, certPEM: r.cert.data}
		others  []publishedCert
		written bool
		renew   bool
	)
	curFits := cur != nil && fits(cur, key) && validAt(cur, at)
	switch {
	case curFits && certificateUsable(cur, key, at):
	case !curFits && next != nil && fits(next, key) && validAt(next, at):
		// An activation between writing the key and the certificate, or a
		// staged renewal (same key, no next key) whose current certificate
		// has expired before anyone ran activate: the next certificate is
		// published already, so it signs.
		signing = publishedCert{role: RoleCurrent, cert: next, certPEM: r.nextCert.data}
		next = nil
		if cur != nil {
			others = append(others, publishedCert{role: RolePrevious, cert: cur, certPEM: r.cert.data})
		}
	case curFits:
		renew = true
		if write && r.nextCert.none() {
			staged, stagedPEM, err := stageRenewal(keeper, key, r, at)
			if err != nil {
				return nil, err
			}
			next, r.nextCert = staged, secret{data: stagedPEM, exists: true}
		}
	case !write:
		return nil, errors.New("no shared signing certificate fits the signing key: run `portus signing-key status` (a staged key or renewal is finished with `portus signing-key activate`)")
	default:
		c, p, w, err := loadCertificate(keeper, key, at)
		if err != nil {
			return nil, err
		}
		signing = publishedCert{role: RoleCurrent, cert: c, certPEM: p}
		written = w
	}
	if next != nil {
		others = append([]publishedCert{{role: RoleNext, cert: next, certPEM: r.nextCert.data}}, others...)
	}
	if prev != nil {
		others = append(others, publishedCert{role: RolePrevious, cert: prev, certPEM: r.prevCert.data})
	}
	s, err := newRingSigner(alg, key, signing, others, written)
	if err != nil {
		return nil, err
	}
	s.activatedAt, s.renewalDue = r.activatedAt(), renew
	return s, nil
}

// stageRenewal stores a new certificate for key as the next one, with no
// next key (the key stays), and returns it.
func stageRenewal(keeper SecretKeeper, key crypto.Signer, r ring, at time.Time) (*x509.Certificate, []byte, error) {
	cert, certPEM, err := newCertificate(key, at)
	if err != nil {
		return nil, nil, err
	}
	if !r.nextKey.none() {
		if err := replaceSecret(keeper, model.SecretSigningNextKey, r.nextKey, nil); err != nil {
			return nil, nil, err
		}
	}
	if err := replaceSecret(keeper, model.SecretSigningNextCert, r.nextCert, certPEM); err != nil {
		return nil, nil, err
	}
	return cert, certPEM, nil
}
