package registryauth

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// activatingKeeper runs an activation the first time the ring is read:
// between a starting replica's read of the key and of the certificates.
type activatingKeeper struct {
	*memKeeper
	once     sync.Once
	activate func()
}

func (k *activatingKeeper) SharedSecret(name string, create func() ([]byte, error)) ([]byte, error) {
	if name == model.SecretSigningNextKey {
		k.once.Do(k.activate)
	}
	return k.memKeeper.SharedSecret(name, create)
}

// TestStartDuringActivation: a replica that starts while another activates
// the staged key signs with a published certificate (the new key's) and
// writes none; before, it paired the old key with the new ring and wrote a
// certificate no registry's bundle holds.
func TestStartDuringActivation(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	mem := &memKeeper{m: map[string][]byte{}}
	if _, err := LoadOrCreateSigner(mem, "", "", clock); err != nil {
		t.Fatal(err)
	}
	rot := KeyRotation{Keeper: mem, MaxTokenLifetime: 5 * time.Minute, Now: clock}
	if err := rot.Rotate(); err != nil {
		t.Fatal(err)
	}
	staged, err := LoadOrCreateSigner(mem, "", "", clock)
	if err != nil {
		t.Fatal(err)
	}
	published := staged.CertificatePEM()

	k := &activatingKeeper{memKeeper: mem}
	k.activate = func() {
		if err := rot.Activate(); err != nil {
			t.Errorf("activate: %v", err)
		}
	}
	s, err := LoadOrCreateSigner(k, "", "", clock)
	if err != nil {
		t.Fatal(err)
	}
	if s.CertificateWritten() {
		t.Error("the starting replica wrote a certificate")
	}
	signing, _, _ := bytes.Cut(s.CertificatePEM(), []byte("-----END CERTIFICATE-----"))
	if !bytes.Contains(published, signing) {
		t.Errorf("the starting replica signs with a certificate that was not published:\n%s", s.CertificatePEM())
	}
}

// TestExpiredWithStagedRenewal: once the current certificate has expired
// and a renewal (same key) is staged but not activated, the staged
// certificate — published since the renewal — signs; no new one is written.
func TestExpiredWithStagedRenewal(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	k := &memKeeper{m: map[string][]byte{}}
	first, err := LoadOrCreateSigner(k, "", "", func() time.Time { return start })
	if err != nil {
		t.Fatal(err)
	}
	late := first.CertificateNotAfter().Add(-CertificateRenewBefore / 2)
	if _, err := LoadOrCreateSigner(k, "", "", func() time.Time { return late }); err != nil {
		t.Fatal(err)
	}
	renewal := bytes.Clone(k.m[model.SecretSigningNextCert])
	if len(renewal) == 0 {
		t.Fatal("no renewal staged")
	}
	current := bytes.Clone(k.m[model.SecretSigningCert])
	expired := first.CertificateNotAfter().Add(time.Hour)
	s, err := LoadOrCreateSigner(k, "", "", func() time.Time { return expired })
	if err != nil {
		t.Fatal(err)
	}
	if s.CertificateWritten() || !bytes.Equal(k.m[model.SecretSigningCert], current) {
		t.Error("a new certificate was written although the staged renewal fits")
	}
	if !bytes.HasPrefix(s.CertificatePEM(), renewal) || s.KeyID() != first.KeyID() {
		t.Errorf("after expiry the signer is not the staged renewal of the same key")
	}
}
