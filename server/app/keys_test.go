package app_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/registryauth"
	"github.com/portusproject/portus/server/store/boltstore"
)

// TestSigningKeyAtStart: the first start creates the signing key and
// certificate as private files of the data directory and says loudly that
// the registry must be told; a later start keeps them quietly; a start
// near the certificate's expiry stages a renewal for the same key, loudly
// again, which signs once activated.
func TestSigningKeyAtStart(t *testing.T) {
	c := testConfig(t)
	const warning = "wrote a new token-signing certificate"
	start := func() (string, *registryauth.Issuer) {
		t.Helper()
		core, err := app.OpenCore(c, cheap)
		if err != nil {
			t.Fatal(err)
		}
		defer core.Close()
		var logs bytes.Buffer
		if _, err := app.PublicHandler(core, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
			t.Fatal(err)
		}
		issuer, err := core.Issuer()
		if err != nil {
			t.Fatal(err)
		}
		return logs.String(), issuer
	}

	logs, first := start()
	if !strings.Contains(logs, warning) {
		t.Errorf("first start did not warn about the new certificate:\n%s", logs)
	}
	for _, name := range []string{model.SecretSigningKey, model.SecretSigningCert} {
		if m := mode(t, filepath.Join(c.Data, name)); m != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, m)
		}
	}
	logs, second := start()
	if strings.Contains(logs, warning) || second.Signer.KeyID() != first.Signer.KeyID() ||
		!bytes.Equal(second.Signer.CertificatePEM(), first.Signer.CertificatePEM()) {
		t.Errorf("second start changed the certificate or warned:\n%s", logs)
	}

	// Put back a certificate of the same key that expires in ten days.
	certFile := filepath.Join(c.Data, model.SecretSigningCert)
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	issued := time.Now().Add(-registryauth.CertificateValidity + 10*24*time.Hour)
	old, err := registryauth.LoadOrCreateSigner(boltstore.SecretFiles{Dir: c.Data}, "", "", func() time.Time { return issued })
	if err != nil || old.KeyID() != first.Signer.KeyID() {
		t.Fatalf("writing an old certificate: %v", err)
	}
	// Near expiry the renewal is staged, not swapped: the current
	// certificate signs until activation, the renewed one is published.
	logs, renewed := start()
	const staged = "a renewed one is staged"
	if !strings.Contains(logs, staged) || renewed.Signer.KeyID() != first.Signer.KeyID() ||
		!renewed.Signer.CertificateNotAfter().Equal(old.CertificateNotAfter()) {
		t.Errorf("a start ten days before expiry did not stage a renewal loudly for the same key:\n%s", logs)
	}
	next, err := os.ReadFile(filepath.Join(c.Data, model.SecretSigningNextCert))
	if err != nil || !bytes.Equal(renewed.Signer.CertificatePEM(), append(old.CertificatePEM(), next...)) {
		t.Errorf("the bundle is not the current and the renewed certificate: %v", err)
	}
	if err := (registryauth.KeyRotation{Keeper: boltstore.SecretFiles{Dir: c.Data}}).Activate(); err != nil {
		t.Fatal(err)
	}
	logs, activated := start()
	if strings.Contains(logs, staged) || !activated.Signer.CertificateNotAfter().After(old.CertificateNotAfter()) {
		t.Errorf("after activating the renewal:\n%s", logs)
	}
}
