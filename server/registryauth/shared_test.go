package registryauth

import (
	"bytes"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// memKeeper is a SecretKeeper in memory.
type memKeeper struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (k *memKeeper) SharedSecret(name string, create func() ([]byte, error)) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.m[name]; ok {
		return v, nil
	}
	if create == nil {
		return nil, fmt.Errorf("shared secret %s: %w", name, model.ErrNotFound)
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	k.m[name] = v
	return v, nil
}

func (k *memKeeper) ReplaceSharedSecret(name string, old, next []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if cur, ok := k.m[name]; ok && !bytes.Equal(cur, old) {
		return cur, nil
	}
	k.m[name] = next
	return next, nil
}

func TestSharedSignerIsShared(t *testing.T) {
	k := &memKeeper{m: map[string][]byte{}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(t time.Time) func() time.Time { return func() time.Time { return t } }
	a, err := LoadOrCreateSigner(k, AlgES256, "", at(t0))
	if err != nil {
		t.Fatal(err)
	}
	if !a.CertificateWritten() {
		t.Error("the first replica did not report writing the certificate")
	}
	b, err := LoadOrCreateSigner(k, "", "", at(t0.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if b.CertificateWritten() || a.KeyID() != b.KeyID() || !bytes.Equal(a.CertificatePEM(), b.CertificatePEM()) {
		t.Errorf("second replica: written %v, key %s vs %s, same cert %v", b.CertificateWritten(), a.KeyID(), b.KeyID(), bytes.Equal(a.CertificatePEM(), b.CertificatePEM()))
	}
	if _, err := LoadOrCreateSigner(k, AlgRS256, "", at(t0)); err == nil {
		t.Error("RS256 accepted for a shared ES256 key")
	}

	// Near expiry, the next replica stages a renewed certificate for all
	// (the key stays); the current one signs until activation.
	late := a.CertificateNotAfter().Add(-CertificateRenewBefore / 2)
	c, err := LoadOrCreateSigner(k, "", "", at(late))
	if err != nil {
		t.Fatal(err)
	}
	if c.CertificateWritten() || !c.RenewalDue() || c.KeyID() != a.KeyID() || !bytes.HasPrefix(c.CertificatePEM(), a.CertificatePEM()) || len(k.m[model.SecretSigningNextCert]) == 0 {
		t.Errorf("renewal: written %v, due %v, same key %v, bundle starts with the current certificate %v", c.CertificateWritten(), c.RenewalDue(), c.KeyID() == a.KeyID(), bytes.HasPrefix(c.CertificatePEM(), a.CertificatePEM()))
	}
	d, err := LoadOrCreateSigner(k, "", "", at(late))
	if err != nil || d.CertificateWritten() || !bytes.Equal(d.CertificatePEM(), c.CertificatePEM()) {
		t.Errorf("after the renewal another replica renewed again: %v, written %v", err, d != nil && d.CertificateWritten())
	}

	// A copy of the stored bytes gives the same signer; a certificate of
	// another key is replaced for this one.
	copied := &memKeeper{m: maps.Clone(k.m)}
	if e, err := LoadOrCreateSigner(copied, "", "", at(late)); err != nil || e.KeyID() != a.KeyID() || e.CertificateWritten() {
		t.Errorf("signer from a copy of the secrets: %v, %v", e, err)
	}
	other, _ := LoadOrCreateSigner(&memKeeper{m: map[string][]byte{}}, "", "", at(late))
	copied.m[model.SecretSigningCert] = other.CertificatePEM()
	// While a renewal is staged, its certificate (published already) signs
	// rather than a new one that no registry has.
	staged := copied.m[model.SecretSigningNextCert]
	if e, err := LoadOrCreateSigner(copied, "", "", at(late)); err != nil || e.KeyID() != a.KeyID() || e.CertificateWritten() || !bytes.HasPrefix(e.CertificatePEM(), staged) {
		t.Errorf("with a staged renewal and a foreign current certificate: %v, %v", e, err)
	}
	copied.m[model.SecretSigningNextCert] = nil
	e, err := LoadOrCreateSigner(copied, "", "", at(late))
	if err != nil || e.KeyID() != a.KeyID() || !e.CertificateWritten() || bytes.Equal(e.CertificatePEM(), other.CertificatePEM()) {
		t.Errorf("a certificate of another key was kept: %v, %v", e, err)
	}
}
