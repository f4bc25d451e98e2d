package registryauth

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// SecretKeeper keeps key material that every replica of a deployment
// shares, under the names KeyFileName and CertFileName. The store's
// SharedSecret and ReplaceSharedSecret fit it (see model.Store).
type SecretKeeper interface {
	// SharedSecret returns the secret called name, storing what create
	// returns if there is none yet; concurrent callers all get the one
	// stored first.
	SharedSecret(name string, create func() ([]byte, error)) ([]byte, error)
	// ReplaceSharedSecret stores next if the secret is still old and
	// returns the secret as stored afterwards.
	ReplaceSharedSecret(name string, old, next []byte) ([]byte, error)
}

// LoadOrCreateSharedSigner is LoadOrCreateSigner for several replicas: the
// key and the certificate are kept by keeper instead of files, so that the
// first replica creates them and every replica signs with the same key and
// presents the same certificate, and one rootcertbundle verifies them all.
// alg and keyFile mean what they mean for LoadOrCreateSigner; with a
// keyFile (the same on every replica) only the certificate is shared. A
// certificate that is unusable at now() is replaced, once, by whichever
// replica notices first.
func LoadOrCreateSharedSigner(keeper SecretKeeper, alg, keyFile string, now func() time.Time) (*Signer, error) {
	if now == nil {
		now = time.Now
	}
	if alg != "" && alg != AlgES256 && alg != AlgRS256 {
		return nil, fmt.Errorf("unsupported signing algorithm %q (want %s or %s)", alg, AlgES256, AlgRS256)
	}
	var (
		key  crypto.Signer
		name = keyFile
		err  error
	)
	if keyFile != "" {
		key, err = readPrivateKey(keyFile)
	} else {
		name = "the shared signing key"
		var keyPEM []byte
		keyPEM, err = keeper.SharedSecret(KeyFileName, func() ([]byte, error) {
			_, p, err := generateKey(alg)
			return p, err
		})
		if err == nil {
			key, err = parsePrivateKey(keyPEM, name)
		}
	}
	if err != nil {
		return nil, err
	}
	keyAlg, err := algorithmFor(key)
	if err != nil {
		return nil, err
	}
	if alg != "" && alg != keyAlg {
		return nil, fmt.Errorf("%s is for %s, not the configured %s", name, keyAlg, alg)
	}

	at := now()
	var created []byte
	certPEM, err := keeper.SharedSecret(CertFileName, func() ([]byte, error) {
		_, p, err := newCertificate(key, at)
		created = p
		return p, err
	})
	if err != nil {
		return nil, err
	}
	// Written by us, not by a replica that won the race.
	written := created != nil && bytes.Equal(certPEM, created)
	cert, err := parseCertificate(certPEM)
	if err != nil || !certificateUsable(cert, key, at) {
		_, fresh, err := newCertificate(key, at)
		if err != nil {
			return nil, err
		}
		stored, err := keeper.ReplaceSharedSecret(CertFileName, certPEM, fresh)
		if err != nil {
			return nil, err
		}
		written = bytes.Equal(stored, fresh)
		certPEM = stored
		if cert, err = parseCertificate(certPEM); err != nil {
			return nil, err
		}
		if !certificateUsable(cert, key, at) {
			return nil, errors.New("the shared signing certificate does not fit the signing key: do all replicas use the same --signing-key?")
		}
	}
	return newSigner(keyAlg, key, cert, certPEM, written)
}

// SignerFromPEM builds a signer from a PEM private key and its PEM
// certificate, as LoadOrCreateSigner would from its files.
func SignerFromPEM(keyPEM, certPEM []byte) (*Signer, error) {
	key, err := parsePrivateKey(keyPEM, "signing key")
	if err != nil {
		return nil, err
	}
	alg, err := algorithmFor(key)
	if err != nil {
		return nil, err
	}
	cert, err := parseCertificate(certPEM)
	if err != nil {
		return nil, err
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("the signing certificate is for another key")
	}
	return newSigner(alg, key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), false)
}

func parseCertificate(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("signing certificate: no PEM certificate found")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	return cert, nil
}
