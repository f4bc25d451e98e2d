package model

import (
	"errors"
	"fmt"
	"time"
)

// Rotation gives a token a new secret and keeps its slot: the id, name,
// scope and owner stay; the old hash is kept as a retired secret (see
// RetiredSecret).

// ErrRotated is RotateToken's answer when Rotation.From is no longer the
// token's hash: someone rotated it first. Of concurrent rotations of one
// token exactly one wins, so one secret is live.
var ErrRotated = errors.New("the token was rotated since its secret was read")

// Rotation is what RotateToken needs.
type Rotation struct {
	Owner, ID string
	// From is the hash being replaced; it must be the token's current
	// hash (a compare-and-swap), or the rotation fails with ErrRotated.
	From []byte
	// Hash is the new secret's hash.
	Hash []byte
	// ExpiresAt is the token's new expiry (nil: none).
	ExpiresAt *time.Time
	// At is when the rotation happens: the token's RotatedAt.
	At time.Time
	// GraceUntil is until when From still authenticates (not after At: not
	// at all); KeepUntil until when it is recorded so that a use of it is
	// recognised as reuse. Records whose KeepUntil is before At are pruned.
	GraceUntil, KeepUntil time.Time
}

// RetiredSecret is the record of a hash that a rotation replaced.
type RetiredSecret struct {
	TokenID    string    `json:"token_id"`
	Owner      string    `json:"owner"`
	Name       string    `json:"name"`
	RetiredAt  time.Time `json:"retired_at"`
	GraceUntil time.Time `json:"grace_until"`
	KeepUntil  time.Time `json:"keep_until"`
}

// ReusedSecretError is SecretByHash's answer for a retired secret past its
// grace: it authenticates nothing (it is ErrNotFound to errors.Is, so any
// caller that does not look closer refuses it), but says whose it was, so
// that the account layer can flag the reuse.
type ReusedSecretError struct{ RetiredSecret }

func (e *ReusedSecretError) Error() string {
	return fmt.Sprintf("a replaced secret of token %q of %q (retired %s)", e.Name, e.Owner, e.RetiredAt.UTC().Format(time.RFC3339))
}

// Is makes the error ErrNotFound.
func (e *ReusedSecretError) Is(target error) bool { return target == ErrNotFound }

// Resolve is what a lookup of hash, found as the retired secret r, answers
// at now, given the token stored under r.TokenID now (ok false: none).
// Within the grace it is the token, with Hash set to the retired hash, so
// that a rotation from it fails its compare (only the live secret
// rotates), and Retired set; after it a *ReusedSecretError; for a token
// revoked since, or a record past KeepUntil, ErrNotFound. Both stores
// answer through it.
func (r RetiredSecret) Resolve(t Token, ok bool, hash []byte, now time.Time) (Token, error) {
	switch {
	case !ok || t.Owner != r.Owner || t.ID != r.TokenID || !now.Before(r.KeepUntil):
		return Token{}, ErrNotFound
	case now.Before(r.GraceUntil):
		t.Hash = append([]byte(nil), hash...)
		t.Retired = true
		return t, nil
	default:
		return Token{}, &ReusedSecretError{r}
	}
}

// Retired is the record RotateToken keeps for r.From.
func (r Rotation) Retired(name string) RetiredSecret {
	return RetiredSecret{TokenID: r.ID, Owner: r.Owner, Name: name, RetiredAt: r.At, GraceUntil: r.GraceUntil, KeepUntil: r.KeepUntil}
}

// Issued is when t's current secret was made: its last rotation, or its
// creation.
func (t Token) Issued() time.Time {
	if !t.RotatedAt.IsZero() {
		return t.RotatedAt
	}
	return t.CreatedAt
}
