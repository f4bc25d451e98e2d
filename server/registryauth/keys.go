package registryauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signing algorithms. Registry 2.8 accepts no EdDSA, PS* or HS* tokens.
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

const (
	// RSAKeyBits is the size of a generated RS256 key. 2048 bits is what
	// the registry and the JWS specification ask for at least; 3072 would
	// make every token about 2.5 times slower to sign for no practical gain
	// over a key that can be replaced at any time.
	RSAKeyBits = 2048
	// CertificateValidity is how long a generated certificate is valid.
	CertificateValidity = 5 * 365 * 24 * time.Hour
	// CertificateRenewBefore is how long before its expiry a certificate is
	// replaced by LoadOrCreateSigner.
	CertificateRenewBefore = 30 * 24 * time.Hour
	// CertificateCommonName is the subject of a generated certificate.
	CertificateCommonName = "portus token signer"

	// certBackdate covers clocks slightly behind ours.
	certBackdate = time.Hour
)

// Signer holds the token signing key, its self-signed certificate and the
// other certificates published beside it during a key rotation (rotate.go).
// It is immutable after LoadOrCreateSigner and safe for concurrent use; a
// LiveSigner replaces it as a whole when the keys change.
type Signer struct {
	method  jwt.SigningMethod
	key     crypto.Signer
	cert    *x509.Certificate
	certPEM []byte
	keyID   string
	jwks    []byte
	written bool

	// x5c is the certificate as the tokens' x5c header carries it.
	x5c string

	// published is every certificate a registry must trust, the signing
	// one first; bundle is their PEM concatenation.
	published []publishedCert
	bundle    []byte
	// activatedAt is when the signing key was last activated (zero: never).
	activatedAt time.Time
	// renewalDue: the signing certificate expires within
	// CertificateRenewBefore (a renewed one is staged as next).
	renewalDue bool
}

// publishedCert is one certificate of the published set and its role.
type publishedCert struct {
	role    string
	cert    *x509.Certificate
	certPEM []byte
	keyID   string
	alg     string
}

// newRingSigner returns the Signer of key with its certificate signing and
// the others published beside it (duplicates dropped).
func newRingSigner(alg string, key crypto.Signer, signing publishedCert, others []publishedCert, written bool) (*Signer, error) {
	kid, err := LibtrustKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	cert := signing.cert
	s := &Signer{key: key, cert: cert, certPEM: signing.certPEM, keyID: kid, written: written,
		x5c: base64.StdEncoding.EncodeToString(cert.Raw)}
	switch key.(type) {
	case *ecdsa.PrivateKey:
		s.method = jwt.SigningMethodES256
	case *rsa.PrivateKey:
		s.method = jwt.SigningMethodRS256
	}
	signing.keyID, signing.alg = kid, alg
	s.published = []publishedCert{signing}
	for _, o := range others {
		if slices.ContainsFunc(s.published, func(p publishedCert) bool { return bytes.Equal(p.cert.Raw, o.cert.Raw) }) {
			continue
		}
		if o.keyID, err = LibtrustKeyID(o.cert.PublicKey); err != nil {
			return nil, err
		}
		if o.alg, err = algorithmForPublic(o.cert.PublicKey); err != nil {
			return nil, err
		}
		s.published = append(s.published, o)
	}
	var keys []jwk
	for _, p := range s.published {
		s.bundle = append(s.bundle, p.certPEM...)
		// One JWK per key: a renewed certificate shares the key.
		if slices.ContainsFunc(keys, func(k jwk) bool { return k.Kid == p.keyID }) {
			continue
		}
		k, err := jwkFor(p.alg, p.cert.PublicKey, p.keyID, base64.StdEncoding.EncodeToString(p.cert.Raw))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if s.jwks, err = json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{keys}); err != nil {
		return nil, err
	}
	return s, nil
}

// KeyID returns the libtrust key ID of the signing key, the tokens' "kid".
func (s *Signer) KeyID() string { return s.keyID }

// CertificatePEM returns the registry's rootcertbundle, PEM-encoded: the
// signing certificate first, then, during a key rotation, the staged next
// and the retiring previous certificate. The caller may modify the
// returned slice.
func (s *Signer) CertificatePEM() []byte { return bytes.Clone(s.bundle) }

// CertificateNotAfter returns when the signing certificate expires.
func (s *Signer) CertificateNotAfter() time.Time { return s.cert.NotAfter }

// CertificateWritten reports whether LoadOrCreateSigner wrote a new
// signing certificate (first use, an expired one, or a new key). The
// registry accepts tokens only once its rootcertbundle holds the new
// certificate, so a server should say so loudly when this is true.
func (s *Signer) CertificateWritten() bool { return s.written }

// RenewalDue reports whether the signing certificate expires within
// CertificateRenewBefore. LoadOrCreateSigner then staged a renewed
// certificate as the next one (unless one was staged already): registries
// must load the new bundle (registry-config, restart) before
// `portus signing-key activate`, or they refuse every token once the
// current certificate expires.
func (s *Signer) RenewalDue() bool { return s.renewalDue }

// PublicKey returns the public half of the signing key.
func (s *Signer) PublicKey() crypto.PublicKey { return s.key.Public() }

// JWKS returns every published public key (the signing one first) as a
// JSON Web Key Set, for registry 3's "jwks" option:
//
//	{"keys":[{"kty":"EC","crv":"P-256","x":…,"y":…,"kid":…,"use":"sig","alg":"ES256","x5c":[…]}]}
//
// (an RSA key has "n" and "e" instead of "crv", "x" and "y"). Its "kid" is
// the libtrust key ID, the same as in every token header, because registry
// 3 looks JWKS keys up by the token's kid; it is not the RFC 7638
// thumbprint. The caller may modify the returned slice.
func (s *Signer) JWKS() ([]byte, error) { return bytes.Clone(s.jwks), nil }

type jwk struct {
	Kty string   `json:"kty"`
	Crv string   `json:"crv,omitempty"`
	X   string   `json:"x,omitempty"`
	Y   string   `json:"y,omitempty"`
	N   string   `json:"n,omitempty"`
	E   string   `json:"e,omitempty"`
	Kid string   `json:"kid"`
	Use string   `json:"use"`
	Alg string   `json:"alg"`
	X5c []string `json:"x5c"`
}

func jwkFor(alg string, pub crypto.PublicKey, kid, x5c string) (jwk, error) {
	k := jwk{Kid: kid, Use: "sig", Alg: alg, X5c: []string{x5c}}
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		point, err := p.Bytes() // 0x04 || X || Y, each coordinate full length
		if err != nil {
			return jwk{}, err
		}
		n := (len(point) - 1) / 2
		k.Kty, k.Crv = "EC", "P-256"
		k.X = base64.RawURLEncoding.EncodeToString(point[1 : 1+n])
		k.Y = base64.RawURLEncoding.EncodeToString(point[1+n:])
	case *rsa.PublicKey:
		k.Kty = "RSA"
		k.N = base64.RawURLEncoding.EncodeToString(p.N.Bytes())
		k.E = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	default:
		return jwk{}, fmt.Errorf("unsupported public key type %T", pub)
	}
	return k, nil
}

// LibtrustKeyID returns the key ID that docker/libtrust, and so registry
// 2.x, gives pub: the SHA-256 of its DER SubjectPublicKeyInfo, cut to 30
// bytes (240 bits), base32-encoded (48 characters, no padding) and written
// as 12 groups of 4 joined by ':'.
func LibtrustKeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	enc := base32.StdEncoding.EncodeToString(sum[:30])
	var b strings.Builder
	b.Grow(len(enc) + len(enc)/4)
	for i := 0; i < len(enc); i += 4 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(enc[i : i+4])
	}
	return b.String(), nil
}

// algorithmFor returns the token algorithm for key, or an error if the key
// is of a kind or size the registry cannot use.
func algorithmFor(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("unsupported EC curve %s (want P-256 for %s)", k.Curve.Params().Name, AlgES256)
		}
		return AlgES256, nil
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits is too small (want at least 2048)", k.N.BitLen())
		}
		return AlgRS256, nil
	}
	return "", fmt.Errorf("unsupported signing key type %T (want ECDSA P-256 or RSA)", key)
}

// algorithmForPublic is the token algorithm of a published certificate's key.
func algorithmForPublic(pub crypto.PublicKey) (string, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return AlgES256, nil
	case *rsa.PublicKey:
		return AlgRS256, nil
	}
	return "", fmt.Errorf("unsupported certificate key type %T", pub)
}

// generateKey generates a key for alg (empty: ES256) and returns it with
// its PKCS#8 PEM encoding.
func generateKey(alg string) (crypto.Signer, []byte, error) {
	var (
		key crypto.Signer
		err error
	)
	if alg == AlgRS256 {
		key, err = rsa.GenerateKey(rand.Reader, RSAKeyBits)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generating signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding signing key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// readPrivateKey reads the first private key in the PEM file name, skipping
// other blocks such as the "EC PARAMETERS" that openssl writes first.
func readPrivateKey(name string) (crypto.Signer, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	return parsePrivateKey(data, name)
}

// parsePrivateKey parses the first private key in PEM data; name says
// where it came from in errors.
func parsePrivateKey(data []byte, name string) (crypto.Signer, error) {
	var err error
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("signing key %s: no PEM private key found", name)
		}
		switch block.Type {
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("signing key %s is encrypted; supply it unencrypted", name)
		default:
			continue
		}
		if block.Headers["Proc-Type"] != "" {
			return nil, fmt.Errorf("signing key %s is encrypted; supply it unencrypted", name)
		}
		var parsed any
		switch block.Type {
		case "PRIVATE KEY":
			parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			parsed, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", name, err)
		}
		signer, ok := parsed.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("signing key %s: unsupported key type %T", name, parsed)
		}
		if _, err := algorithmFor(signer); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", name, err)
		}
		return signer, nil
	}
}

// newCertificate creates a self-signed certificate for key, valid from
// now (backdated by certBackdate) for CertificateValidity.
func newCertificate(key crypto.Signer, now time.Time) (*x509.Certificate, []byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: CertificateCommonName},
		NotBefore:             now.Add(-certBackdate),
		NotAfter:              now.Add(CertificateValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func certificateUsable(c *x509.Certificate, key crypto.Signer, now time.Time) bool {
	pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public()) &&
		!now.Before(c.NotBefore) &&
		now.Add(CertificateRenewBefore).Before(c.NotAfter)
}
