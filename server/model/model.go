// Package model defines what Portus keeps — users, application tokens, web
// sessions, the audit log and the deployment's shared secrets — the errors
// about them, and Store, the contract every storage backend implements.
//
// It holds no behaviour beyond small predicates and imports no database, so
// every layer can speak of a User or a Token: handlers see these values
// through the account service, backends (server/store/...) persist them.
package model

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// Errors about these values, returned by the store and passed on by the
// account service. Backends wrap them with detail; callers test with
// errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrUserExists  = errors.New("user already exists")
	ErrNameTaken   = errors.New("token name already taken")
	ErrTokenLimit  = errors.New("token limit reached")
	ErrUnavailable = errors.New("store unavailable")
)

// User is an account.
type User struct {
	Name string `json:"name"`
	// PasswordHash is a PHC-format hash ($argon2id$...), empty for users
	// without a local password, or a bcrypt string ($2y$...) imported from
	// htpasswd or docker_auth, replaced by argon2id at the first sign-in.
	PasswordHash string    `json:"password_hash,omitempty"`
	Admin        bool      `json:"admin,omitempty"`
	Disabled     bool      `json:"disabled,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// Source is where the password is checked: "" for a local account,
	// SourceLDAP for one created at its first LDAP sign-in.
	Source string `json:"source,omitempty"`
	// Email and DisplayName come from the directory for LDAP accounts.
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// DockerLogin overrides the server's docker_login policy for this
	// user: "tokens_only", "passwords_allowed", or "" for the server's.
	DockerLogin string `json:"docker_login,omitempty"`
	// DockerLoginBy is who set DockerLogin: the user's own name when they
	// chose it on their profile, an administrator's otherwise ("" for the
	// admin CLI and for settings made before this field existed).
	DockerLoginBy string `json:"docker_login_by,omitempty"`
	// OIDCSubject is the OpenID provider's "sub" of the person who signs
	// in to this account, bound at the first SSO sign-in; OIDCLinkedBy is
	// the administrator who let a local or LDAP account be signed in by
	// SSO (`portus user link-sso`). Accounts of SourceOIDC need no link.
	OIDCSubject  string `json:"oidc_subject,omitempty"`
	OIDCLinkedBy string `json:"oidc_linked_by,omitempty"`
}

// Values of User.Source: SourceLDAP for accounts whose password is in the
// directory, SourceOIDC for those created at their first sign-in with the
// OpenID provider (they have no password at all).
const (
	SourceLDAP = "ldap"
	SourceOIDC = "oidc"
)

// Token is an application token as stored: its secret only as a keyed hash.
type Token struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	Name  string `json:"name"`
	// Hash is HMAC-SHA256(pepper, token): the lookup key. The plaintext is
	// never stored.
	Hash       []byte     `json:"hash"`
	Scope      string     `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	CreatedVia string     `json:"created_via"`
	// RotatedAt is when the secret was last replaced (rotate.go); zero if
	// never.
	RotatedAt time.Time `json:"rotated_at,omitzero"`
	// Kind is KindLogin for a login token, made by a docker login with a
	// password; "" (KindApp) for an application token. Tokens stored
	// before kinds existed have none and are application tokens.
	Kind string `json:"kind,omitempty"`
	// LastUsedAddr and LastUsedClient are where the use at LastUsedAt
	// came from: the client address and User-Agent (RecordTokenUse).
	LastUsedAddr   string `json:"last_used_addr,omitempty"`
	LastUsedClient string `json:"last_used_client,omitempty"`
	// Notified maps an expiry event type (EventTokenExpiring,
	// EventTokenExpired) to the expiry time it was published for
	// (MarkTokenNotified), so that each is told once per expiry, across
	// restarts and replicas; a new expiry (a use that moves an idle one)
	// is told again.
	Notified map[string]time.Time `json:"notified,omitempty"`
	// Retired is set, never stored, on the token SecretByHash found by a
	// replaced secret still in its rotation grace (RetiredSecret.Resolve):
	// such a secret may finish jobs but not manage the token.
	Retired bool `json:"-"`
}

// Kinds of token. They are counted apart: login tokens have their own
// cap and never take an application token's slot.
const (
	KindApp   = ""
	KindLogin = "login"
)

// Login reports whether t is a login token.
func (t Token) Login() bool { return t.Kind == KindLogin }

// LastActive is when t was last used, or created if never used: the
// order in which login tokens are evicted, and the start of their idle
// time.
func (t Token) LastActive() time.Time {
	if t.LastUsedAt != nil && t.LastUsedAt.After(t.CreatedAt) {
		return *t.LastUsedAt
	}
	return t.CreatedAt
}

// LeastActive returns the n least recently active tokens of list (by
// LastActive, then ID), oldest first; none for n <= 0. It is the order in
// which a store evicts login tokens at their cap.
func LeastActive(list []Token, n int) []Token {
	if n <= 0 {
		return nil
	}
	list = slices.Clone(list)
	slices.SortStableFunc(list, func(a, b Token) int {
		if c := a.LastActive().Compare(b.LastActive()); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return list[:min(n, len(list))]
}

// Activity is one audit-log entry. It never holds a secret.
type Activity struct {
	// ID is assigned by the store, increasing with time.
	ID        uint64    `json:"id"`
	Time      time.Time `json:"time"`
	Action    string    `json:"action"`
	Actor     string    `json:"actor"`
	Subject   string    `json:"subject,omitempty"`
	TokenName string    `json:"token_name,omitempty"`
	ClientIP  string    `json:"client_ip,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// ActionAuthFailure is the Action of a refused authentication.
const ActionAuthFailure = "auth.failure"

// Failure reports whether a belongs to the failure log rather than to the
// history. The two are capped apart, so that failures anyone can cause
// without an account never push out the history of what users and
// administrators did (user.*, token.*, session.* and admin actions).
func (a Activity) Failure() bool { return a.Action == ActionAuthFailure }

// Users are the users whose pages show a (ActivityQuery.User): its actor
// and its subject, each once.
func (a Activity) Users() []string {
	var users []string
	if a.Actor != "" {
		users = append(users, a.Actor)
	}
	if a.Subject != "" && a.Subject != a.Actor {
		users = append(users, a.Subject)
	}
	return users
}

// Session is a signed-in browser. Its cookie holds a random secret; the
// store keeps only the SHA-256 of that secret, as ID, so a copy of the
// database opens no session.
type Session struct {
	// ID is SHA-256(cookie value): the lookup key.
	ID   []byte `json:"id"`
	User string `json:"user"`
	// CSRFToken is the random value every form of the session carries.
	CSRFToken string    `json:"csrf_token"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
}
