package registryauth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// MarshalJSON encodes c exactly as Issue does: fields in the order above,
// a nil Access or Actions as [].
func (c Claims) MarshalJSON() ([]byte, error) { return c.appendJSON(nil), nil }

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

// Issuer signs registry tokens. It is safe for concurrent use; do not
// change its fields while it is in use.
type Issuer struct {
	// Signer holds the key; required.
	Signer *Signer
	// Name is the "iss" claim; it must equal the registry's auth.token.issuer.
	Name string
	// TTL is the token lifetime, at least MinTTL; zero means DefaultTTL.
	// It is counted in whole seconds.
	TTL time.Duration
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
	case i == nil || i.Signer == nil:
		return errors.New("token issuer has no signer")
	case i.Name == "":
		return errors.New("token issuer name (iss) not set")
	case i.TTL != 0 && i.TTL < MinTTL:
		return fmt.Errorf("token lifetime %s is below the minimum of %s", i.TTL, MinTTL)
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

// bufPool holds scratch buffers for the payload and signature encodings.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuf keeps a rare huge token from pinning its buffer in the pool.
const maxPooledBuf = 64 << 10

// Issue signs a token for subject ("" for anonymous) and service, the
// registry's auth.token.service, which becomes "aud". The token is valid
// from NotBeforeSkew before now until now plus the TTL, carries a fresh
// random "jti" (16 bytes from crypto/rand, hex) and access as its "access"
// claim ([] when nil). The header holds typ "JWT", the algorithm, kid (the
// libtrust key ID) and x5c (the certificate).
//
// It fails only on a misconfigured Issuer or an empty service.
func (i *Issuer) Issue(subject, service string, access []Access, now time.Time) (string, error) {
	if err := i.check(); err != nil {
		return "", err
	}
	if service == "" {
		return "", errors.New("token service (aud) not set")
	}
	s := i.Signer

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

	bp := bufPool.Get().(*[]byte)
	buf := c.appendJSON((*bp)[:0])
	n := len(buf)
	buf = base64.RawURLEncoding.AppendEncode(buf, buf[:n])
	payload := buf[n:]

	// One builder holds the whole token: the signing input is a prefix of
	// it, and a strings.Builder never rewrites what it has handed out.
	var b strings.Builder
	b.Grow(len(s.header) + 1 + len(payload) + 1 + base64.RawURLEncoding.EncodedLen(s.sigLen))
	b.WriteString(s.header)
	b.WriteByte('.')
	b.Write(payload)
	sig, err := s.method.Sign(b.String(), s.key)
	if err != nil {
		putBuf(bp, buf)
		return "", fmt.Errorf("signing token: %w", err)
	}
	b.WriteByte('.')
	buf = base64.RawURLEncoding.AppendEncode(buf[:0], sig)
	b.Write(buf)
	putBuf(bp, buf)
	return b.String(), nil
}

func putBuf(bp *[]byte, buf []byte) {
	if cap(buf) > maxPooledBuf {
		return
	}
	*bp = buf[:0]
	bufPool.Put(bp)
}

// appendJSON appends c as JSON, byte for byte what encoding/json makes of
// the struct, except that nil slices are [].
func (c *Claims) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"iss":`...)
	dst = appendJSONString(dst, c.Issuer)
	dst = append(dst, `,"sub":`...)
	dst = appendJSONString(dst, c.Subject)
	dst = append(dst, `,"aud":`...)
	dst = appendJSONString(dst, c.Audience)
	dst = append(dst, `,"exp":`...)
	dst = strconv.AppendInt(dst, c.ExpiresAt, 10)
	dst = append(dst, `,"nbf":`...)
	dst = strconv.AppendInt(dst, c.NotBefore, 10)
	dst = append(dst, `,"iat":`...)
	dst = strconv.AppendInt(dst, c.IssuedAt, 10)
	dst = append(dst, `,"jti":`...)
	dst = appendJSONString(dst, c.ID)
	dst = append(dst, `,"access":[`...)
	for k, a := range c.Access {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = appendAccess(dst, a)
	}
	return append(dst, "]}"...)
}

func appendAccess(dst []byte, a Access) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, a.Type)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, a.Name)
	dst = append(dst, `,"actions":[`...)
	for k, action := range a.Actions {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, action)
	}
	return append(dst, "]}"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string the way encoding/json does:
// HTML-safe (<, > and & escaped), invalid UTF-8 as U+FFFD, U+2028 and
// U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
