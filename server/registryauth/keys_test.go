package registryauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/boltstore"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// dirKeeper keeps the secrets as a bbolt installation does, in files of a
// data directory, so that these tests see the files a server writes.
func dirKeeper(dir string) SecretKeeper { return boltstore.SecretFiles{Dir: dir} }

// parseCertPEM returns the one certificate in data.
func parseCertPEM(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("not a single PEM certificate: %q", data)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func checkMode(t *testing.T, name string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", filepath.Base(name), got, want)
	}
}

func TestSignerPersistence(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			s1, err := LoadOrCreateSigner(dirKeeper(dir), alg, "", at(t0))
			if err != nil {
				t.Fatal(err)
			}
			if s1.method.Alg() != alg || !s1.CertificateWritten() {
				t.Errorf("first signer: algorithm %s, written %v", s1.method.Alg(), s1.CertificateWritten())
			}
			checkMode(t, filepath.Join(dir, model.SecretSigningKey), 0o600)
			checkMode(t, filepath.Join(dir, model.SecretSigningCert), 0o600)
			if entries, _ := os.ReadDir(dir); len(entries) != 2 {
				t.Errorf("directory holds %d files, want 2 (no temporary files left)", len(entries))
			}

			if !regexp.MustCompile(`^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$`).MatchString(s1.KeyID()) {
				t.Errorf("key ID %q is not in the libtrust format", s1.KeyID())
			}

			// Later starts, with the algorithm given or left to the key.
			for _, a := range []string{alg, ""} {
				s2, err := LoadOrCreateSigner(dirKeeper(dir), a, "", at(t0.Add(24*time.Hour)))
				if err != nil {
					t.Fatal(err)
				}
				if s2.KeyID() != s1.KeyID() || s2.method.Alg() != alg {
					t.Errorf("reload with alg %q: key %s (%s), want %s (%s)", a, s2.KeyID(), s2.method.Alg(), s1.KeyID(), alg)
				}
				if !bytes.Equal(s2.CertificatePEM(), s1.CertificatePEM()) || s2.CertificateWritten() {
					t.Error("reload rewrote a good certificate")
				}
			}

			other := map[string]string{AlgES256: AlgRS256, AlgRS256: AlgES256}[alg]
			if _, err := LoadOrCreateSigner(dirKeeper(dir), other, "", nil); err == nil || !strings.Contains(err.Error(), "drop --signing-alg") {
				t.Errorf("key for %s loaded as %s: %v", alg, other, err)
			}

			cert := parseCertPEM(t, s1.CertificatePEM())
			if cert.Subject.CommonName != CertificateCommonName {
				t.Errorf("common name %q", cert.Subject.CommonName)
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil || !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
				t.Errorf("certificate is not self-signed: %v", err)
			}
			if pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(s1.PublicKey()) {
				t.Error("certificate is not for the signing key")
			}
			if !cert.NotAfter.Equal(t0.Add(CertificateValidity)) || cert.NotAfter.Sub(t0) < 5*365*24*time.Hour {
				t.Errorf("certificate valid until %v", cert.NotAfter)
			}
			if !cert.NotBefore.Before(t0) {
				t.Errorf("certificate valid from %v, not before %v", cert.NotBefore, t0)
			}
			if !s1.CertificateNotAfter().Equal(cert.NotAfter) {
				t.Errorf("CertificateNotAfter %v", s1.CertificateNotAfter())
			}
			// What distribution does with a token's x5c and its rootcertbundle.
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(s1.CertificatePEM())
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("certificate does not verify against itself as root: %v", err)
			}
		})
	}
}

func TestSignerCertificateRenewal(t *testing.T) {
	dir := t.TempDir()
	s1, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(t0))
	if err != nil {
		t.Fatal(err)
	}
	if s1.method.Alg() != AlgES256 {
		t.Errorf("default algorithm %s", s1.method.Alg())
	}

	// A year on, nothing to do.
	s2, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(t0.AddDate(1, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if s2.CertificateWritten() || !bytes.Equal(s2.CertificatePEM(), s1.CertificatePEM()) {
		t.Error("certificate renewed a year in")
	}

	// Ten days before expiry: a renewed certificate for the same key is
	// staged as the next one and published; the current one still signs.
	later := t0.Add(CertificateValidity - 10*24*time.Hour)
	s3, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(later))
	if err != nil {
		t.Fatal(err)
	}
	if s3.CertificateWritten() || !s3.RenewalDue() || !bytes.Equal(s3.certPEM, s1.certPEM) {
		t.Fatalf("ten days before expiry: written %v, renewal due %v, same signing certificate %v", s3.CertificateWritten(), s3.RenewalDue(), bytes.Equal(s3.certPEM, s1.certPEM))
	}
	if s3.KeyID() != s1.KeyID() {
		t.Error("renewal changed the key")
	}
	nextPEM, err := os.ReadFile(filepath.Join(dir, model.SecretSigningNextCert))
	if err != nil || !bytes.Equal(s3.CertificatePEM(), append(bytes.Clone(s1.CertificatePEM()), nextPEM...)) {
		t.Fatalf("the bundle is not the current and the staged certificate: %v", err)
	}
	cert := parseCertPEM(t, nextPEM)
	if !cert.NotAfter.Equal(later.Add(CertificateValidity)) {
		t.Errorf("renewed certificate valid until %v", cert.NotAfter)
	}
	checkMode(t, filepath.Join(dir, model.SecretSigningNextCert), 0o600)

	// Just staged, so not again.
	s4, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(later.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if s4.CertificateWritten() || !bytes.Equal(s4.CertificatePEM(), s3.CertificatePEM()) {
		t.Error("renewed twice")
	}

	// Activated, the renewed certificate signs with the same key.
	if err := (KeyRotation{Keeper: dirKeeper(dir), Now: at(later)}).Activate(); err != nil {
		t.Fatal(err)
	}
	s6, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(later.Add(time.Hour)))
	if err != nil || s6.CertificateWritten() || s6.RenewalDue() || s6.KeyID() != s1.KeyID() || !bytes.Equal(s6.certPEM, nextPEM) {
		t.Fatalf("after activating the renewal: %v", err)
	}

	// A clock set back before the certificate's start renews it too.
	s5, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(t0))
	if err != nil {
		t.Fatal(err)
	}
	if !s5.CertificateWritten() || s5.KeyID() != s1.KeyID() {
		t.Error("certificate from the future kept")
	}
}

func TestSignerDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	s1, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(t0))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, model.SecretSigningCert), filepath.Join(dir, model.SecretSigningKey)

	// A damaged certificate is derived data: replaced.
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(t0))
	if err != nil {
		t.Fatal(err)
	}
	if !s2.CertificateWritten() || s2.KeyID() != s1.KeyID() {
		t.Error("damaged certificate not replaced")
	}

	// Loose permissions (a restored backup) are tightened.
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(t0)); err != nil {
		t.Fatal(err)
	}
	checkMode(t, keyFile, 0o600)

	// A damaged key is never overwritten.
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(t0)); err == nil {
		t.Error("damaged key accepted")
	}
	if data, _ := os.ReadFile(keyFile); string(data) != "garbage" {
		t.Error("damaged key overwritten")
	}
}

func TestSignerConcurrentFirstStart(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(t0))
			errs[i] = err
			if err == nil {
				ids[i] = s.KeyID()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("concurrent first starts made different keys: %v", ids)
		}
	}
}

func TestSignerBadAlgorithm(t *testing.T) {
	for _, alg := range []string{"HS256", "EdDSA", "PS256", "es256"} {
		if _, err := LoadOrCreateSigner(dirKeeper(t.TempDir()), alg, "", nil); err == nil {
			t.Errorf("algorithm %s accepted", alg)
		}
	}
	if _, err := LoadOrCreateSigner(dirKeeper(""), "", "", nil); err == nil {
		t.Error("empty directory accepted")
	}
}

func writePEM(t *testing.T, blocks ...*pem.Block) string {
	t.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	name := filepath.Join(t.TempDir(), "operator.pem")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func pkcs8(t *testing.T, key any) *pem.Block {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
}

func TestSignerOperatorKey(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	// What "openssl ecparam -name prime256v1 -genkey" writes: parameters first.
	ecParams := &pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}}

	tests := []struct {
		name   string
		file   string
		key    crypto.Signer
		alg    string
		format string
	}{
		{"PKCS#8 EC", writePEM(t, pkcs8(t, ecKey)), ecKey, AlgES256, ""},
		{"SEC1 EC", writePEM(t, ecParams, &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ecKey, AlgES256, ""},
		{"PKCS#1 RSA", writePEM(t, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), rsaKey, AlgRS256, ""},
		{"PKCS#8 RSA", writePEM(t, pkcs8(t, rsaKey)), rsaKey, AlgRS256, AlgRS256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := LoadOrCreateSigner(dirKeeper(dir), tt.format, tt.file, at(t0))
			if err != nil {
				t.Fatal(err)
			}
			want, err := LibtrustKeyID(tt.key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != want || s.method.Alg() != tt.alg {
				t.Errorf("key %s (%s), want %s (%s)", s.KeyID(), s.method.Alg(), want, tt.alg)
			}
			if _, err := os.Stat(filepath.Join(dir, model.SecretSigningKey)); !os.IsNotExist(err) {
				t.Errorf("a key was written to the directory: %v", err)
			}
			cert := parseCertPEM(t, s.CertificatePEM())
			if pub := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !pub.Equal(tt.key.Public()) {
				t.Error("certificate is not for the operator's key")
			}
			checkMode(t, filepath.Join(dir, model.SecretSigningCert), 0o600)
		})
	}

	// Switching from the generated key to an operator key renews the certificate.
	dir := t.TempDir()
	gen, err := LoadOrCreateSigner(dirKeeper(dir), "", "", at(t0))
	if err != nil {
		t.Fatal(err)
	}
	op, err := LoadOrCreateSigner(dirKeeper(dir), "", tests[2].file, at(t0))
	if err != nil {
		t.Fatal(err)
	}
	if !op.CertificateWritten() || op.KeyID() == gen.KeyID() || op.method.Alg() != AlgRS256 {
		t.Error("certificate not replaced for the operator's key")
	}
	if _, err := LoadOrCreateSigner(dirKeeper(dir), AlgES256, tests[2].file, at(t0)); err == nil {
		t.Error("RSA operator key accepted for ES256")
	}
}

func TestSignerOperatorKeyRejected(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"P-384":     writePEM(t, pkcs8(t, p384)),
		"RSA 1024":  writePEM(t, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}),
		"Ed25519":   writePEM(t, pkcs8(t, edKey)),
		"encrypted": writePEM(t, &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"legacy encrypted": writePEM(t, &pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{
			"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}, Bytes: []byte{1, 2, 3}}),
		"certificate only": writePEM(t, &pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"missing":          filepath.Join(t.TempDir(), "nope.pem"),
	}
	for name, file := range tests {
		dir := t.TempDir()
		if _, err := LoadOrCreateSigner(dirKeeper(dir), "", file, nil); err == nil {
			t.Errorf("%s key accepted", name)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: files written for a rejected key", name)
		}
	}
}

func TestJWKS(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			s := testSigner(t, alg)
			data, err := s.JWKS()
			if err != nil {
				t.Fatal(err)
			}
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(data, &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("JWKS %s: %v", data, err)
			}
			k := set.Keys[0]
			if k["kid"] != s.KeyID() || k["use"] != "sig" || k["alg"] != alg {
				t.Errorf("JWK %v", k)
			}
			cert := parseCertPEM(t, s.CertificatePEM())
			x5c, _ := k["x5c"].([]any)
			if len(x5c) != 1 || x5c[0] != base64.StdEncoding.EncodeToString(cert.Raw) {
				t.Errorf("x5c %v", k["x5c"])
			}
			b64 := func(field string) []byte {
				s, _ := k[field].(string)
				b, err := base64.RawURLEncoding.DecodeString(s)
				if err != nil || len(b) == 0 {
					t.Fatalf("field %s = %q: %v", field, s, err)
				}
				return b
			}
			var pub crypto.PublicKey
			switch alg {
			case AlgES256:
				if k["kty"] != "EC" || k["crv"] != "P-256" {
					t.Errorf("JWK %v", k)
				}
				x, y := b64("x"), b64("y")
				if len(x) != 32 || len(y) != 32 {
					t.Errorf("coordinates of %d and %d bytes", len(x), len(y))
				}
				pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
				if err != nil {
					t.Fatal(err)
				}
			case AlgRS256:
				if k["kty"] != "RSA" {
					t.Errorf("JWK %v", k)
				}
				pub = &rsa.PublicKey{N: new(big.Int).SetBytes(b64("n")), E: int(new(big.Int).SetBytes(b64("e")).Int64())}
			}
			if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Error("JWK is not the certificate's key")
			}
		})
	}
}

// testSigners caches one signer per algorithm: RSA key generation is slow.
var testSigners sync.Map

func testSigner(t testing.TB, alg string) *Signer {
	t.Helper()
	if s, ok := testSigners.Load(alg); ok {
		return s.(*Signer)
	}
	s, err := LoadOrCreateSigner(&memKeeper{m: map[string][]byte{}}, alg, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	actual, _ := testSigners.LoadOrStore(alg, s)
	return actual.(*Signer)
}
