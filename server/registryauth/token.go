package registryauth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// MinTTL is the shortest token lifetime an Issuer accepts. Clients
	// cache a token for at least 60 s whatever it says.
	MinTTL = 60 * time.Second
	// DefaultTTL is the token lifetime when none is configured. A revoked
	// application token stops working within it (plus the registry's
	// 60 s leeway).
	DefaultTTL = 5 * time.Minute
	// NotBeforeSkew is how far in the past a token's "nbf" lies, for
	// registry clocks slightly behind ours.
	NotBeforeSkew = 5 * time.Second
)

// Claims is the payload of a registry token. It is the registered JWT
// claims plus "access", except that Audience is a single JSON string, as
// registry 2.8 rejects an array. Times are seconds since the Unix epoch.
//
// Claims implements jwt.Claims, so a token can be verified with
// jwt.ParseWithClaims(token, &Claims{}, …).
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  string   `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	IssuedAt  int64    `json:"iat"`
	ID        string   `json:"jti"`
	Access    []Access `json:"access"`
}

// GetExpirationTime implements jwt.Claims.
func (c Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.ExpiresAt), nil }

// GetNotBefore implements jwt.Claims.
func (c Claims) GetNotBefore() (*jwt.NumericDate, error) { return numericDate(c.NotBefore), nil }

// GetIssuedAt implements jwt.Claims.
func (c Claims) GetIssuedAt() (*jwt.NumericDate, error) { return numericDate(c.IssuedAt), nil }

// GetIssuer implements jwt.Claims.
func (c Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c Claims) GetAudience() (jwt.ClaimStrings, error) {
	if c.Audience == "" {
		return nil, nil
	}
	return jwt.ClaimStrings{c.Audience}, nil
}

func numericDate(sec int64) *jwt.NumericDate {
	if sec == 0 {
		return nil
	}
	return jwt.NewNumericDate(time.Unix(sec, 0))
}

// TokenHeader says how a token's header names its signing key, which
// decides how a registry finds the key to verify it with.
type TokenHeader string

const (
	// HeaderX5C puts the certificate in "x5c" beside the libtrust "kid".
	// Registry 3 verifies x5c against its rootcertbundle and nothing else,
	// registry 2.8 finds the kid among the bundle's keys: one bundle serves
	// 2.8 and 3.x. This is the default (the zero TokenHeader).
	HeaderX5C TokenHeader = "x5c"
	// HeaderKID leaves x5c out and names the key by its libtrust "kid"
	// only. Registry 3 then looks the kid up in its jwks file (which
	// Signer.JWKS writes with the same kid), registry 2.8 among its
	// rootcertbundle's keys. Registry 3 with only a rootcertbundle cannot
	// verify such tokens: it indexes bundle keys by their JWK thumbprint.
	HeaderKID TokenHeader = "kid"
)

// ParseTokenHeader returns the TokenHeader called name ("x5c" or "kid").
func ParseTokenHeader(name string) (TokenHeader, error) {
	switch h := TokenHeader(name); h {
	case HeaderX5C, HeaderKID:
		return h, nil
	}
	return "", fmt.Errorf("unknown token header %q (want %s or %s)", name, HeaderX5C, HeaderKID)
}

// Issuer signs registry tokens. It is safe for concurrent use; do not
// change its fields while it is in use.
type Issuer struct {
	// Signer holds the key; required unless Live is set.
	Signer *Signer
	// Live, when not nil, supplies the signer instead and follows a key
	// rotation (live.go).
	Live *LiveSigner
	// Name is the "iss" claim; it must equal the registry's auth.token.issuer.
	Name string
	// TTL is the token lifetime, at least MinTTL; zero means DefaultTTL.
	// It is counted in whole seconds.
	TTL time.Duration
	// Header is what the token header carries besides kid; zero means
	// HeaderX5C.
	Header TokenHeader
}

// NewIssuer returns an Issuer, or an error if signer is nil, name is empty
// or ttl is below MinTTL. A zero ttl means DefaultTTL.
func NewIssuer(signer *Signer, name string, ttl time.Duration) (*Issuer, error) {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	i := &Issuer{Signer: signer, Name: name, TTL: ttl}
	if err := i.check(); err != nil {
		return nil, err
	}
	return i, nil
}

func (i *Issuer) check() error {
	switch {
	case i == nil || i.CurrentSigner() == nil:
		return errors.New("token issuer has no signer")
	case i.Name == "":
		return errors.New("token issuer name (iss) not set")
	case i.TTL != 0 && i.TTL < MinTTL:
		return fmt.Errorf("token lifetime %s is below the minimum of %s", i.TTL, MinTTL)
	case i.Header != "" && i.Header != HeaderX5C && i.Header != HeaderKID:
		return fmt.Errorf("unknown token header %q", i.Header)
	}
	return nil
}

// ExpiresIn returns the token lifetime in whole seconds, for the
// "expires_in" field of the token response.
func (i *Issuer) ExpiresIn() int {
	ttl := i.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return int(ttl / time.Second)
}

// Issue signs a token for subject ("" for anonymous) and service, the
// registry's auth.token.service, which becomes "aud". The token is valid
// from NotBeforeSkew before now until now plus the TTL, carries a fresh
// random "jti" (16 bytes from crypto/rand, hex) and access as its "access"
// claim ([] when nil). The header holds typ "JWT", the algorithm, kid (the
// libtrust key ID) and, unless Header is HeaderKID, x5c (the certificate).
//
// It fails only on a misconfigured Issuer or an empty service.
func (i *Issuer) Issue(subject, service string, access []Access, now time.Time) (string, error) {
	if err := i.check(); err != nil {
		return "", err
	}
	if service == "" {
		return "", errors.New("token service (aud) not set")
	}
	s := i.CurrentSigner()

	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	iat := now.Unix()
	c := Claims{
		Issuer:    i.Name,
		Subject:   subject,
		Audience:  service,
		ExpiresAt: iat + int64(i.ExpiresIn()),
		NotBefore: iat - int64(NotBeforeSkew/time.Second),
		IssuedAt:  iat,
		ID:        hex.EncodeToString(id[:]),
		Access:    access,
	}

	if c.Access == nil {
		c.Access = []Access{}
	}
	// golang-jwt encodes and signs; the header gets the key ID of registry
	// 2.8 and of registry 3's jwks (libtrust kid) and, for registry 3 with
	// a rootcertbundle, the certificate chain (x5c).
	t := jwt.NewWithClaims(s.method, c)
	t.Header["kid"] = s.keyID
	if i.Header != HeaderKID {
		t.Header["x5c"] = []string{s.x5c}
	}
	token, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return token, nil
}
