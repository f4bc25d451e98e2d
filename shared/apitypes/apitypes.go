// Package apitypes holds the JSON wire types of the Portus API (/api/v1) and of
// the registry token endpoint (/v2/token). The server encodes them and the
// credential helper decodes them, so both sides share one definition.
package apitypes

import "time"

// Paths of the API, relative to the server's public URL.
const (
	TokensPath        = "/api/v1/tokens"
	CurrentTokenPath  = "/api/v1/tokens/current"
	CallerPath        = "/api/v1/user"
	RegistryTokenPath = "/v2/token"
	// AuthHeader carries "username:token" as an alternative to HTTP Basic.
	AuthHeader = "Portus-Auth"
)

// Token scopes, each including the ones before it.
const (
	ScopePull   = "pull"
	ScopePush   = "push"
	ScopeDelete = "delete"
)

// Ways a token can be created, recorded as its "created via".
const (
	ViaWeb    = "web"
	ViaAPI    = "api"
	ViaHelper = "helper"
	ViaCLI    = "cli"
	// ViaDockerLogin marks a login token: made by the token endpoint for a
	// docker login with a password, and kept by docker as its identity
	// token.
	ViaDockerLogin = "docker-login"
)

// Kinds of token, as Token.Kind lists them.
const (
	// KindApp is an application token, made on purpose (web, API, helper,
	// CLI); at most max_tokens per user.
	KindApp = "app"
	// KindLogin is a login token (ViaDockerLogin), with its own cap
	// (max_login_tokens) and lifetimes (login_token_idle, _max_age).
	KindLogin = "login"
)

// Error is the body of every non-2xx API answer.
type Error struct {
	Message string `json:"message"`
}

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Name      string     `json:"name"`
	Scope     string     `json:"scope,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Replace revokes the caller's token of the same name in the same
	// transaction, so repeated logins from one machine do not pile up.
	Replace bool `json:"replace,omitempty"`
	// CreatedVia may be "helper"; anything else is recorded as "api".
	CreatedVia string `json:"created_via,omitempty"`
}

// Token describes an application token without its secret.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scope      string     `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedVia string     `json:"created_via"`
	// Kind is KindApp or KindLogin.
	Kind string `json:"kind"`
	// Expired is true for a token that no longer works: past expires_at,
	// or a login token idle or old beyond the server's limits.
	Expired bool `json:"expired"`
	// ExpiresSoon is true for a token that works now but expires within
	// 7 days (by date, age or idleness).
	ExpiresSoon bool `json:"expires_soon"`
	// LastUsedAddr and LastUsedClient are the client address and
	// User-Agent of the last use, when known.
	LastUsedAddr   string `json:"last_used_addr"`
	LastUsedClient string `json:"last_used_client"`
}

// CreatedToken is the answer to POST /api/v1/tokens: the only time the
// plaintext token is ever sent.
type CreatedToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scope     string     `json:"scope"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Token     string     `json:"token"`
}

// User describes an account.
type User struct {
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	// Source is "ldap" for accounts whose password is in the directory.
	Source      string `json:"source,omitempty"`
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// DockerLogin is the user's override of the server's docker_login
	// policy, empty when the server's applies.
	DockerLogin string `json:"docker_login,omitempty"`
	// PendingRehash is set while the account still has the bcrypt hash
	// it was imported with (`portus user import`); its next sign-in
	// replaces it with argon2id.
	PendingRehash bool `json:"pending_rehash,omitempty"`
}

// CreateUserRequest is the body of POST /api/v1/users.
type CreateUserRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Admin    bool   `json:"admin,omitempty"`
}

// UpdateUserRequest is the body of PATCH /api/v1/users/{name}; nil fields
// stay as they are.
type UpdateUserRequest struct {
	Admin    *bool `json:"admin,omitempty"`
	Disabled *bool `json:"disabled,omitempty"`
	// DockerLogin sets the user's docker_login policy: "tokens_only",
	// "passwords_allowed", or "" for the server's.
	DockerLogin *string `json:"docker_login,omitempty"`
	// Unlock lifts a password lock the sign-in throttle put on the user.
	Unlock bool `json:"unlock,omitempty"`
}

// SetPasswordRequest is the body of PUT /api/v1/users/{name}/password: a
// new password an administrator gives the user (a reset). It ends the
// user's web sessions and lifts their sign-in lock; their application
// tokens keep working.
type SetPasswordRequest struct {
	Password string `json:"password"`
}

// Activity is one audit-log entry.
type Activity struct {
	ID        uint64    `json:"id"`
	Time      time.Time `json:"time"`
	Action    string    `json:"action"`
	Actor     string    `json:"actor"`
	Subject   string    `json:"subject,omitempty"`
	TokenName string    `json:"token_name,omitempty"`
	ClientIP  string    `json:"client_ip,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// ActivityPage is the answer to GET /api/v1/activities.
type ActivityPage struct {
	Activities []Activity `json:"activities"`
	// Next is the "before" cursor of the next (older) page; zero when there is none.
	Next uint64 `json:"next,omitempty"`
}

// RegistryToken is the answer of the registry token endpoint (GET and POST
// /v2/token). Token and AccessToken are equal: Docker reads the first,
// OAuth2 clients such as containerd the second.
type RegistryToken struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
	// RefreshToken answers a password login that asked for an offline
	// token (offline_token=true, access_type=offline) with a new login
	// token, and a refresh grant with the token it was given: docker keeps
	// it as its identity token instead of the password.
	RefreshToken string `json:"refresh_token,omitempty"`
}

// LinkSSORequest is the optional body of POST /api/v1/users/{name}/sso-link.
type LinkSSORequest struct {
	// Subject, if set, is the provider's "sub" of the person who may sign
	// in to the account: then only they can, whatever their username
	// claim says. Empty: the first single sign-on with the name binds it.
	Subject string `json:"subject,omitempty"`
}
