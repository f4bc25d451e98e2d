// Store, the one interface through which the server reads and writes
// what Portus keeps.
//
// The interface is shaped by the domain, not by a key-value API: each method
// is one transaction that keeps its invariants inside (a user never holds
// more tokens than the limit, token names are unique per owner, a replaced
// token and its successor change together). That lets the same contract run
// on the embedded bbolt file (package store/boltstore) and on etcd (package
// store/etcdstore), with one conformance suite (package store/storetest) for
// both. No package outside a backend sees a database type.

package model

import (
	"fmt"
	"io"
	"math"
	"time"
)

// ActivityQuery selects a page of the audit log, newest first.
type ActivityQuery struct {
	// User, when not empty, keeps entries whose actor or subject is User.
	User string
	// Before, when not zero, keeps entries with an ID below it (the next page).
	Before uint64
	// Limit is the page size; zero means 50.
	Limit int
}

// Range returns the page's bounds with the defaults applied: entries with
// IDs below before (the highest ID when Before is zero), at most limit.
func (q ActivityQuery) Range() (before uint64, limit int) {
	before, limit = q.Before, q.Limit
	if before == 0 {
		before = math.MaxUint64
	}
	if limit <= 0 {
		limit = 50
	}
	return before, limit
}

// NewToken is what CreateToken needs to insert a token.
type NewToken struct {
	Token
	// Limit is the most tokens of Token.Kind Owner may hold after the
	// insert; zero or less means no limit. Tokens of the other kind do not
	// count.
	Limit int
	// Replace revokes Owner's token of the same name in the same transaction.
	Replace bool
	// Now and Rules say which tokens have expired: those do not count
	// toward Limit. A zero Now counts every token.
	Now   time.Time
	Rules ExpiryRules
}

// Counts reports whether held takes a slot of the limit of t.
func (t NewToken) Counts(held Token) bool {
	return held.Kind == t.Kind && (t.Now.IsZero() || !held.ExpiredUnder(t.Now, t.Rules.For(held)))
}

// Store is the persistent state of a Portus server. All methods are safe for
// concurrent use. Errors other than the sentinels (model.go) mean the backend
// failed (disk full, read-only, connection lost) and wrap ErrUnavailable.
type Store interface {
	// CreateUser adds u. When firstIsAdmin is true and the store has no user
	// yet, u is made an administrator in the same transaction. It returns
	// the user as stored, or ErrUserExists.
	CreateUser(u User, firstIsAdmin bool) (User, error)
	// User returns the named user or ErrNotFound.
	User(name string) (User, error)
	// Users returns all users ordered by name.
	Users() ([]User, error)
	// UpdateUser applies change to the named user inside one transaction and
	// returns the result. An error from change aborts without writing.
	UpdateUser(name string, change func(*User) error) (User, error)

	// CreateToken inserts t, keeping the owner at or below t.Limit tokens
	// and token names unique per owner. With t.Replace, the owner's token of
	// the same name is revoked first and returned as replaced. Errors:
	// ErrNotFound (no such owner), ErrNameTaken, ErrTokenLimit.
	CreateToken(t NewToken) (replaced *Token, err error)
	// CreateLoginToken inserts t, whose Kind is KindLogin, as CreateToken
	// does, except at the limit: then the owner's least recently active
	// login tokens (Token.LastActive) are revoked in the same transaction
	// until t fits, and returned, least recently active first. t.Replace
	// is ignored. Errors: ErrNotFound (no such owner), ErrNameTaken.
	CreateLoginToken(t NewToken) (evicted []Token, err error)
	// TokenByHash returns the token with this hash and its owner, or
	// ErrNotFound. It is on the hot path of every docker command.
	TokenByHash(hash []byte) (Token, User, error)
	// Tokens returns the owner's tokens ordered by creation time.
	Tokens(owner string) ([]Token, error)
	// RevokeToken deletes the owner's token id and returns it, or ErrNotFound.
	RevokeToken(owner, id string) (Token, error)
	// TokenCount returns the number of tokens in the store, all owners.
	TokenCount() (int, error)
	// RecordTokenUse sets last uses (token id → time, address, client); a
	// use older than the stored one and ids of revoked tokens are ignored.
	RecordTokenUse(uses map[string]TokenUse) error
	// TokensExpiringBy returns every token, all owners, that expires under
	// rules at or before at (Token.ExpiryTime), expired ones included.
	TokensExpiringBy(at time.Time, rules ExpiryRules) ([]Token, error)
	// DeleteExpiredTokens deletes every token that expired under rules at
	// or before before, and returns them.
	DeleteExpiredTokens(before time.Time, rules ExpiryRules) ([]Token, error)
	// MarkTokenNotified sets t.Notified[event] = expiry on token id unless
	// it is already so, and reports whether it set it: true for exactly
	// one caller of many. Errors: ErrNotFound (no such token).
	MarkTokenNotified(id, event string, expiry time.Time) (bool, error)
	// RotateToken gives the owner's token r.ID the secret r.Hash and expiry
	// r.ExpiresAt in one transaction, if its hash is still r.From, and keeps
	// r.From as a retired secret (model.Rotation); it returns the token as
	// stored. Errors: ErrNotFound, ErrRotated.
	RotateToken(r Rotation) (Token, error)
	// SecretByHash is TokenByHash that also knows retired secrets: within
	// their grace at now they find the token, after it they are a
	// *ReusedSecretError, and a token revoked since is ErrNotFound.
	SecretByHash(hash []byte, now time.Time) (Token, User, error)
	// EndRetiredGrace ends the grace of the retired secret hash at at,
	// unless it ended before: from then on it is a reuse, as after a
	// natural end (a leak report: leaked.go). ErrNotFound if no such
	// record is kept.
	EndRetiredGrace(hash []byte, at time.Time) error

	// AddActivity appends a to its log — the failure log when a.Failure(),
	// the history otherwise — and prunes the oldest entries of that log
	// only, so that at most keep of it remain (keep <= 0 keeps everything).
	// Both logs take IDs from one increasing sequence.
	AddActivity(a Activity, keep int) error
	// Activities returns a page of both logs merged by ID, newest first.
	// With q.User set it reads only that user's entries (an index), never
	// the whole log.
	Activities(q ActivityQuery) ([]Activity, error)

	// CreateSession adds a web session of s.User. Errors: ErrNotFound (no
	// such user).
	CreateSession(s Session) error
	// SessionByID returns the session with this id and its user as stored
	// now, or ErrNotFound. It is read on every web request.
	SessionByID(id []byte) (Session, User, error)
	// TouchSession sets the session's LastSeen to at, unless the stored
	// time is later. Errors: ErrNotFound (no such session).
	TouchSession(id []byte, at time.Time) error
	// DeleteSession removes a session; a missing one is not an error.
	DeleteSession(id []byte) error
	// DeleteUserSessions removes every session of user and returns how many
	// there were.
	DeleteUserSessions(user string) (int, error)
	// PruneSessions removes the sessions created before createdBefore or
	// last seen before seenBefore, and returns how many it removed.
	PruneSessions(createdBefore, seenBefore time.Time) (int, error)

	// SharedSecret returns the secret called name, one of the Secret*
	// names: key material that every process of a deployment must share.
	// When the store has none yet it stores what create returns, in one
	// transaction that fails if another process stored one first; that
	// process's secret is then returned, so all callers get the same bytes.
	// A nil create makes a missing secret ErrNotFound.
	SharedSecret(name string, create func() ([]byte, error)) ([]byte, error)
	// ReplaceSharedSecret stores next as the secret called name if the
	// stored one is still old (nil old: if there is none), and returns the
	// secret as stored afterwards: next, or what another process stored
	// in between, which the caller should then use instead.
	ReplaceSharedSecret(name string, old, next []byte) ([]byte, error)

	// DeviceGrants: the device authorization grant (device.go).
	DeviceGrants
	// The webhook delivery queue (webhookqueue.go).
	WebhookQueue

	// Backup writes a consistent copy of the whole store to w. Shared
	// secrets are not part of it.
	Backup(w io.Writer) (int64, error)
	// Close releases the store. Methods called afterwards fail.
	Close() error
}

// Names of the shared secrets.
const (
	// SecretPepper keys the HMAC under which application tokens are
	// stored: without it no stored token can be checked.
	SecretPepper = "pepper"
	// SecretSigningKey is the PEM private key that signs registry JWTs.
	SecretSigningKey = "registry-signing.key"
	// SecretSigningCert is the PEM self-signed certificate of that key.
	SecretSigningCert = "registry-signing.crt"

	// The signing-key rotation (package registryauth, rotate.go). A key
	// and certificate staged by `portus signing-key rotate`, or a renewed
	// certificate, are published beside the signing one until activated;
	// after activation the old certificate stays published as the
	// previous one until retired. An empty secret means none: the store
	// cannot delete a secret, so a rotation step empties it.

	// SecretSigningNextKey is the staged PEM private key; empty with a
	// staged certificate when the next certificate renews the current key.
	SecretSigningNextKey = "registry-signing-next.key"
	// SecretSigningNextCert is the staged PEM certificate.
	SecretSigningNextCert = "registry-signing-next.crt"
	// SecretSigningPreviousCert is the PEM certificate that signed before
	// the last activation.
	SecretSigningPreviousCert = "registry-signing-previous.crt"
	// SecretSigningActivated is the time (RFC 3339) of the last activation.
	SecretSigningActivated = "registry-signing.activated"
)

// SecretNames are the shared secrets a deployment may hold, in the order
// a copy should write them.
var SecretNames = []string{SecretPepper, SecretSigningKey, SecretSigningCert,
	SecretSigningNextKey, SecretSigningNextCert, SecretSigningPreviousCert, SecretSigningActivated}

// Unavailable wraps a backend failure so that callers can answer 503.
func Unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}
