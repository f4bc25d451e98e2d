// Package apptoken owns the format of Portus application tokens.
//
// A token is the prefix "ptk_", 32 base62 characters from crypto/rand and 6
// base62 characters of the CRC32 (IEEE) of those 32, 42 characters in all:
//
//	ptk_ + [0-9A-Za-z]{32} + [0-9A-Za-z]{6}
//
// The prefix lets secret scanners spot a leaked token; the checksum rejects a
// typo, or a password that merely looks like a token, without a database
// lookup. Both the server and the credential helper import this package: the
// helper uses Valid to tell an application token from a real password.
package apptoken

import (
	"crypto/rand"
	"errors"
	"hash/crc32"
	"strings"
)

const (
	// Prefix starts every application token.
	Prefix = "ptk_"
	// RandomLen is the number of random base62 characters (about 190 bits).
	RandomLen = 32
	// ChecksumLen is the number of base62 characters of the CRC32 checksum.
	ChecksumLen = 6
	// Len is the length of a whole token.
	Len = len(Prefix) + RandomLen + ChecksumLen
)

// Pattern is a regular expression that matches a token, for secret scanners.
const Pattern = `ptk_[0-9A-Za-z]{38}`

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrMalformed is returned by Check for a string that is not a well-formed token.
var ErrMalformed = errors.New("not a well-formed application token")

// New returns a fresh token. It fails only if the system's random source does.
func New() (string, error) {
	var b strings.Builder
	b.Grow(Len)
	b.WriteString(Prefix)
	// Rejection sampling keeps every character uniform: bytes >= 248 (4*62)
	// would favour the first characters of the alphabet.
	buf := make([]byte, 64)
	for n := 0; n < RandomLen; {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, c := range buf {
			if c >= 248 {
				continue
			}
			b.WriteByte(alphabet[c%62])
			n++
			if n == RandomLen {
				break
			}
		}
	}
	random := b.String()[len(Prefix):]
	b.WriteString(checksum(random))
	return b.String(), nil
}

// Check reports whether s is a well-formed token: prefix, length, alphabet
// and checksum. It does not say whether the token exists or is still valid.
func Check(s string) error {
	if !LooksLike(s) {
		return ErrMalformed
	}
	body := s[len(Prefix):]
	for i := 0; i < len(body); i++ {
		if !isBase62(body[i]) {
			return ErrMalformed
		}
	}
	random, sum := body[:RandomLen], body[RandomLen:]
	if checksum(random) != sum {
		return ErrMalformed
	}
	return nil
}

// Valid reports whether s is a well-formed token (Check returns nil).
func Valid(s string) bool { return Check(s) == nil }

// LooksLike reports whether s has the prefix and length of a token, without
// checking its characters or checksum. A string that looks like a token but
// fails Check is a mistyped token, never a password: callers must not send it
// to a password backend.
func LooksLike(s string) bool {
	return len(s) == Len && strings.HasPrefix(s, Prefix)
}

// Redact returns a form of s that is safe to log: the prefix and the last
// four characters at most.
func Redact(s string) string {
	if !LooksLike(s) {
		return "[redacted]"
	}
	return Prefix + "…" + s[len(s)-4:]
}

func checksum(random string) string {
	v := crc32.ChecksumIEEE([]byte(random))
	var out [ChecksumLen]byte
	for i := ChecksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return string(out[:])
}

func isBase62(c byte) bool {
	return ('0' <= c && c <= '9') || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z')
}
