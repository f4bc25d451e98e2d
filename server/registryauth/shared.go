package registryauth

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/portusproject/portus/server/model"
)

// SecretKeeper keeps the key material that every process of a deployment
// shares, under the names model.SecretSigningKey and
// model.SecretSigningCert. model.Store fits it: with bbolt the secrets are
// files in the data directory, with etcd keys in the cluster.
type SecretKeeper interface {
	// SharedSecret returns the secret called name, storing what create
	// returns if there is none yet; concurrent callers all get the one
	// stored first.
	SharedSecret(name string, create func() ([]byte, error)) ([]byte, error)
	// ReplaceSharedSecret stores next if the secret is still old and
	// returns the secret as stored afterwards.
	ReplaceSharedSecret(name string, old, next []byte) ([]byte, error)
}

// LoadOrCreateSigner loads the signing key and its certificate from keeper,
// creating them on first use. The first process creates them and every
// other signs with the same key and presents the same certificate, so one
// rootcertbundle verifies them all. A stored key is never replaced: a
// damaged one is an error to fix by hand.
//
// alg is AlgES256 (P-256) or AlgRS256 (RSAKeyBits bits). The empty alg
// takes the algorithm of the key found, or ES256 for a key generated now;
// an explicit alg that does not fit the key is an error rather than a
// silently replaced key.
//
// keyFile, if not empty, names an operator-supplied PEM private key (PKCS#8,
// SEC1 EC or PKCS#1 RSA; an EC key must be P-256, an RSA key at least 2048
// bits) used instead of the stored one, which is then neither read nor
// created; only the certificate is kept by keeper.
//
// The certificate is self-signed, valid CertificateValidity, with common
// name CertificateCommonName. One expiring within CertificateRenewBefore
// of now() is not swapped: a renewed certificate for the same key is
// staged as the next one (see RenewalDue and rotate.go), published beside
// it until `portus signing-key activate`. One that is missing, unreadable,
// for another key, not yet valid or already expired is replaced at once,
// by whichever process notices first; see CertificateWritten. A nil now
// means time.Now.
func LoadOrCreateSigner(keeper SecretKeeper, alg, keyFile string, now func() time.Time) (*Signer, error) {
	if now == nil {
		now = time.Now
	}
	if alg != "" && alg != AlgES256 && alg != AlgRS256 {
		return nil, fmt.Errorf("unsupported signing algorithm %q (want %s or %s)", alg, AlgES256, AlgRS256)
	}
	// An activation by another replica between reading the key and the
	// certificates would pair the old key with the new ring, and the
	// certificate written for that pair would be in no registry's bundle:
	// read the key again after the ring, and start over if it changed.
	for attempt := 0; ; attempt++ {
		key, keyAlg, err := loadKey(keeper, alg, keyFile, true)
		if err != nil {
			return nil, err
		}
		r, err := readRing(keeper)
		if err != nil {
			return nil, err
		}
		again, _, err := loadKey(keeper, alg, keyFile, false)
		if err != nil {
			return nil, err
		}
		if samePublicKey(key, again) || attempt == 4 {
			return signerFromRing(keeper, key, keyAlg, r, now(), true)
		}
	}
}

func samePublicKey(a, b crypto.Signer) bool {
	pub, ok := a.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(b.Public())
}

// loadKey returns the operator's key from keyFile, or the stored key
// (generated for alg if there is none and create is set), and its
// algorithm.
func loadKey(keeper SecretKeeper, alg, keyFile string, create bool) (crypto.Signer, string, error) {
	var (
		key  crypto.Signer
		name = keyFile
		err  error
	)
	if keyFile != "" {
		key, err = readPrivateKey(keyFile)
	} else {
		name = model.SecretSigningKey
		generate := func() ([]byte, error) {
			_, p, err := generateKey(alg)
			return p, err
		}
		if !create {
			generate = nil
		}
		var keyPEM []byte
		keyPEM, err = keeper.SharedSecret(model.SecretSigningKey, generate)
		if err == nil {
			key, err = parsePrivateKey(keyPEM, name)
		}
	}
	if err != nil {
		return nil, "", err
	}
	keyAlg, err := algorithmFor(key)
	if err != nil {
		return nil, "", err
	}
	if alg != "" && alg != keyAlg {
		return nil, "", fmt.Errorf("signing key %s is for %s, not the configured %s: drop --signing-alg (the key's algorithm is used), or see docs/operators.md \"Connect a registry\" to rotate the key", name, keyAlg, alg)
	}
	return key, keyAlg, nil
}

// loadCertificate returns the stored certificate if it is still good for
// key at now, or stores a new one and reports whether this call wrote it.
func loadCertificate(keeper SecretKeeper, key crypto.Signer, at time.Time) (cert *x509.Certificate, certPEM []byte, written bool, err error) {
	var created []byte
	certPEM, err = keeper.SharedSecret(model.SecretSigningCert, func() ([]byte, error) {
		_, p, err := newCertificate(key, at)
		created = p
		return p, err
	})
	if err != nil {
		return nil, nil, false, err
	}
	// Written by us, not by a process that won the race.
	written = created != nil && bytes.Equal(certPEM, created)
	if cert, err = parseCertificate(certPEM); err == nil && certificateUsable(cert, key, at) {
		return cert, certPEM, written, nil
	}
	_, fresh, err := newCertificate(key, at)
	if err != nil {
		return nil, nil, false, err
	}
	stored, err := keeper.ReplaceSharedSecret(model.SecretSigningCert, certPEM, fresh)
	if err != nil {
		return nil, nil, false, err
	}
	if cert, err = parseCertificate(stored); err != nil {
		return nil, nil, false, err
	}
	if !certificateUsable(cert, key, at) {
		return nil, nil, false, errors.New("the shared signing certificate does not fit the signing key: do all replicas use the same --signing-key?")
	}
	return cert, stored, bytes.Equal(stored, fresh), nil
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
