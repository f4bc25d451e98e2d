// Package account owns the rules about people and their credentials: who
// may sign in with what, how passwords are hashed, how application tokens
// are minted, limited, looked up and revoked, the throttle on failed
// attempts, the batching of last-used times and the audit trail of all of
// it. HTTP handlers (api, web, the token endpoint) and the admin CLI call
// this package; it calls the store.
package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"sync"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// Errors of this package; HTTP layers map them to status codes.
var (
	// ErrAuthFailed is the one answer to every credential failure, so that a
	// client cannot tell an unknown user from a wrong password.
	ErrAuthFailed = errors.New("authentication failed")
	ErrNotFound   = errors.New("not found")
	ErrUserExists = errors.New("a user with this name already exists")
	ErrNameTaken  = errors.New("you already have a token with this name; choose another name or remove that token first")
)

// LimitError is returned when a user already holds the most tokens allowed.
type LimitError struct{ Limit int }

func (e *LimitError) Error() string {
	return fmt.Sprintf("users cannot have more than %d application tokens", e.Limit)
}

// ThrottledError is returned while a client must wait after failed attempts.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-in attempts; try again in %d seconds", retrySeconds(e.RetryAfter))
}

// RetrySeconds is the Retry-After value for the wait, rounded up.
func (e *ThrottledError) RetrySeconds() int { return retrySeconds(e.RetryAfter) }

func retrySeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// Options configure a Service.
type Options struct {
	// Pepper keys the HMAC under which tokens are stored.
	Pepper []byte
	// MaxTokens is the most application tokens a user may hold (default 5).
	MaxTokens int
	// PasswordParams are the argon2id costs (default DefaultPasswordParams).
	PasswordParams PasswordParams
	// AuditKeep is how many audit entries to keep (default 100 000; <0 all).
	AuditKeep int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives failures of background work (default slog.Default()).
	Logger *slog.Logger
	// OnAuthFailure, if set, is told the kind of credential ("password" or
	// "token") of every failed authentication, for metrics. It is never told
	// the reason: an unauthenticated /metrics must not reveal whether a
	// username exists. It must be fast and never block.
	OnAuthFailure func(kind string)
	// Passwords add an LDAP directory and the docker_login policy (ldap.go).
	Passwords PasswordOptions
}

// Service implements the account rules on a store.
type Service struct {
	store    model.Store
	pepper   []byte
	max      int
	params   PasswordParams
	keep     int
	now      func() time.Time
	log      *slog.Logger
	throttle *Throttle
	onFail   func(kind string)
	// dummyHash is checked for unknown users so that their answer takes as
	// long as a wrong password. Made on first need: it costs a full argon2
	// run (and its memory) that a server may never have to spend.
	dummyOnce sync.Once
	dummyHash string
	// macs reuses HMAC states keyed with the pepper: one per token lookup
	// otherwise, on the hot path of every docker command.
	macs sync.Pool

	failures failureAudit

	usesMu sync.Mutex
	uses   map[string]time.Time // token id → last use not yet written

	// passwords: the LDAP directory and the docker_login policy.
	passwords PasswordOptions
}

// New returns a Service. It fails only if the pepper is too short.
func New(st model.Store, opts Options) (*Service, error) {
	if len(opts.Pepper) < 32 {
		return nil, errors.New("the token pepper must be at least 32 bytes")
	}
	s := &Service{
		store:  st,
		pepper: opts.Pepper,
		max:    opts.MaxTokens,
		params: opts.PasswordParams,
		keep:   opts.AuditKeep,
		now:    opts.Now,
		log:    opts.Logger,
		uses:   map[string]time.Time{},
		onFail: opts.OnAuthFailure,

		passwords: opts.Passwords,
	}
	if s.max <= 0 {
		s.max = 5
	}
	if s.params == (PasswordParams{}) {
		s.params = DefaultPasswordParams
	}
	if s.keep == 0 {
		s.keep = 100_000
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.throttle = NewThrottle(s.now)
	s.macs.New = func() any { return hmac.New(sha256.New, s.pepper) }
	return s, nil
}

// dummy returns the hash checked for users without one.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		var err error
		if s.dummyHash, err = HashPassword("portus-dummy-password", s.params); err != nil {
			// Only a broken random source fails here; the check then
			// fails as unreadable, which refuses just the same.
			s.log.Error("could not make the dummy password hash", "err", err)
		}
	})
	return s.dummyHash
}

// MaxTokens is the per-user token limit in force.
func (s *Service) MaxTokens() int { return s.max }

// Throttle is the service's throttle, shared by every way to sign in.
func (s *Service) Throttle() *Throttle { return s.throttle }

// Actor is who performs an action, for the audit log.
type Actor struct {
	Name string
	IP   string
}

// Principal is an authenticated caller.
type Principal struct {
	User model.User
	// Token is the application token that authenticated the request, nil
	// for a password, a web session or the local admin socket.
	Token *model.Token
	// Local is set for the admin CLI on the server's unix socket, which is
	// trusted like an administrator.
	Local bool
}

// LocalAdminName is the actor name of the admin CLI in the audit log.
const LocalAdminName = "portus-cli"

// Name is the principal's username (LocalAdminName for the admin socket).
func (p Principal) Name() string {
	if p.Local {
		return LocalAdminName
	}
	return p.User.Name
}

// Admin reports whether the principal has administrator rights.
func (p Principal) Admin() bool { return p.Local || p.User.Admin }

// Actor returns the principal as the actor of an action from ip.
func (p Principal) Actor(ip string) Actor { return Actor{Name: p.Name(), IP: ip} }

// TokenHash is the stored form of a token: HMAC-SHA256 under the pepper.
func (s *Service) TokenHash(token string) []byte {
	m := s.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(token))
	sum := m.Sum(nil)
	s.macs.Put(m)
	return sum
}

// Authenticate checks a username with a secret that is either an
// application token (recognised by its format) or a password.
func (s *Service) Authenticate(name, secret, ip string) (Principal, error) {
	if apptoken.LooksLike(secret) {
		return s.AuthenticateToken(name, secret, ip)
	}
	return s.AuthenticatePassword(name, secret, ip)
}

// AuthenticateToken checks an application token for name. It costs one
// HMAC and one store lookup; a well-formed unknown token and a known token
// of another user take the same path.
func (s *Service) AuthenticateToken(name, token, ip string) (Principal, error) {
	if wait := s.throttle.Wait(name, ip, false); wait > 0 {
		return Principal{}, &ThrottledError{wait}
	}
	if apptoken.Check(token) != nil {
		return Principal{}, s.tokenFailed(name, ip, "malformed token")
	}
	hash := s.TokenHash(token)
	t, u, err := s.store.TokenByHash(hash)
	if errors.Is(err, model.ErrNotFound) {
		return Principal{}, s.tokenFailed(name, ip, "unknown token")
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.now()
	switch {
	// The lookup key is the HMAC itself, so the hash matches; what is left
	// to check is that the token belongs to the name given.
	case subtle.ConstantTimeCompare([]byte(u.Name), []byte(name)) != 1:
		return Principal{}, s.tokenFailed(name, ip, "token of another user")
	case u.Disabled:
		return Principal{}, s.tokenFailed(name, ip, "disabled user")
	case t.Expired(now):
		return Principal{}, s.tokenFailed(name, ip, "expired token")
	}
	// No throttle.Succeed: a token in use must not reset the password
	// counters of its owner, or a busy CI job would lift a lock an
	// attacker earned.
	s.noteUse(t.ID, now)
	return Principal{User: u, Token: &t}, nil
}

// AuthenticatePassword checks a password for name with the password hash
// or, for LDAP accounts, the directory (see ldap.go for the order).
func (s *Service) AuthenticatePassword(name, password, ip string) (Principal, error) {
	if wait := s.throttle.BeginPassword(name, ip); wait > 0 {
		return Principal{}, &ThrottledError{wait}
	}
	defer s.throttle.EndPassword(name, ip)
	u, err := s.store.User(name)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return Principal{}, err
	}
	if s.askDirectory(u, password) {
		if p, err, decided := s.authenticateDirectory(name, password, ip, u, err == nil); decided {
			return p, err
		}
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = s.dummy()
	}
	ok, herr := checkPassword(password, hash)
	switch {
	case herr != nil:
		s.log.Error("stored password hash is unreadable", "user", name, "err", herr)
		return Principal{}, s.failed(name, ip, "unreadable password hash")
	case errors.Is(err, model.ErrNotFound):
		return Principal{}, s.failed(name, ip, "unknown user")
	case u.PasswordHash == "":
		return Principal{}, s.failed(name, ip, "no local password")
	case !ok:
		return Principal{}, s.failed(name, ip, "wrong password")
	case u.Disabled:
		return Principal{}, s.failed(name, ip, "disabled user")
	}
	s.throttle.Succeed(name, ip)
	return Principal{User: u}, nil
}

// failed records a failed password authentication and returns
// ErrAuthFailed. The reason goes to the audit log, never to the client.
func (s *Service) failed(name, ip, reason string) error {
	s.throttle.Fail(name, ip)
	if s.onFail != nil {
		s.onFail("password")
	}
	s.auditFailure(model.Activity{Action: "auth.failure", Actor: failedName(name), ClientIP: ip, Detail: reason})
	return ErrAuthFailed
}

// tokenFailed is failed for an application token.
func (s *Service) tokenFailed(name, ip, reason string) error {
	s.throttle.FailToken(ip)
	if s.onFail != nil {
		s.onFail("token")
	}
	s.auditFailure(model.Activity{Action: "auth.failure", Actor: failedName(name), ClientIP: ip, Detail: reason})
	return ErrAuthFailed
}

// failedName is the claimed username as the audit log may keep it: a
// secret typed into the username field (it happens) is not stored.
func failedName(name string) string {
	if ValidateUsername(name) == nil {
		return name
	}
	return apptoken.Redact(name)
}

// UserLookup returns the current record of a user, ErrNotFound if none.
func (s *Service) UserLookup(name string) (model.User, error) {
	u, err := s.store.User(name)
	if errors.Is(err, model.ErrNotFound) {
		return u, ErrNotFound
	}
	return u, err
}

// Users lists all accounts.
func (s *Service) Users() ([]model.User, error) { return s.store.Users() }

// CreateUser validates and adds an account. With firstIsAdmin, the account
// becomes an administrator if it is the first one (sign-up on a new server).
func (s *Service) CreateUser(actor Actor, name, password string, admin, firstIsAdmin bool) (model.User, error) {
	if err := ValidateUsername(name); err != nil {
		return model.User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return model.User{}, err
	}
	hash, err := HashPassword(password, s.params)
	if err != nil {
		return model.User{}, err
	}
	u, err := s.store.CreateUser(model.User{Name: name, PasswordHash: hash, Admin: admin, CreatedAt: s.now().UTC()}, firstIsAdmin)
	if errors.Is(err, model.ErrUserExists) {
		return u, ErrUserExists
	}
	if err != nil {
		return u, err
	}
	detail := ""
	if u.Admin {
		detail = "administrator"
	}
	s.audit(model.Activity{Action: "user.create", Actor: actor.Name, Subject: name, ClientIP: actor.IP, Detail: detail})
	return u, nil
}

// UserChange is what UpdateUser may change; nil fields stay.
type UserChange struct {
	Admin    *bool
	Disabled *bool
	// Password, when not nil, is a new password to hash and set.
	Password *string
	// DockerLogin, when not nil, sets the user's docker_login policy
	// ("" for the server's).
	DockerLogin *string
	// Unlock lifts the throttle's password lock on the user: the way back
	// in for a victim of someone else's guessing.
	Unlock bool
}

// UpdateUser changes an account. Disabling takes effect at once: the next
// request with any of the user's tokens or sessions fails.
func (s *Service) UpdateUser(actor Actor, name string, c UserChange) (model.User, error) {
	var hash string
	if c.DockerLogin != nil {
		if err := ValidateDockerLogin(*c.DockerLogin, true); err != nil {
			return model.User{}, err
		}
	}
	if c.Password != nil {
		if err := ValidatePassword(*c.Password); err != nil {
			return model.User{}, err
		}
		var err error
		if hash, err = HashPassword(*c.Password, s.params); err != nil {
			return model.User{}, err
		}
	}
	if (c.Admin != nil && !*c.Admin) || (c.Disabled != nil && *c.Disabled) {
		if err := s.keepAnAdmin(name); err != nil {
			return model.User{}, err
		}
	}
	var events []string
	u, err := s.store.UpdateUser(name, func(u *model.User) error {
		events = events[:0]
		if c.Admin != nil && *c.Admin != u.Admin {
			u.Admin = *c.Admin
			events = append(events, map[bool]string{true: "user.admin.grant", false: "user.admin.revoke"}[u.Admin])
		}
		if c.Disabled != nil && *c.Disabled != u.Disabled {
			u.Disabled = *c.Disabled
			events = append(events, map[bool]string{true: "user.disable", false: "user.enable"}[u.Disabled])
		}
		if hash != "" {
			if u.Source == model.SourceLDAP {
				return errDirectoryPassword
			}
			u.PasswordHash = hash
			events = append(events, "user.password.change")
		}
		if c.DockerLogin != nil && *c.DockerLogin != u.DockerLogin {
			u.DockerLogin = *c.DockerLogin
			events = append(events, "user.docker_login."+map[bool]string{true: "default", false: *c.DockerLogin}[u.DockerLogin == ""])
		}
		return nil
	})
	if errors.Is(err, model.ErrNotFound) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, err
	}
	if c.Disabled != nil && *c.Disabled {
		s.endUserSessions(name)
	}
	if c.Unlock {
		s.throttle.Unlock(name)
		events = append(events, "user.unlock")
	}
	for _, e := range events {
		s.audit(model.Activity{Action: e, Actor: actor.Name, Subject: name, ClientIP: actor.IP})
	}
	return u, nil
}

// ErrLastAdmin refuses to demote or disable the only active administrator.
var ErrLastAdmin = errors.New("this is the only active administrator; make another user an administrator first (or use the admin CLI on the server)")

// keepAnAdmin refuses a change that would leave no active administrator
// besides name. Two administrators demoting each other at the same moment
// could still both succeed; the admin CLI on the server recovers from that.
func (s *Service) keepAnAdmin(name string) error {
	users, err := s.store.Users()
	if err != nil {
		return err
	}
	target := false
	for _, u := range users {
		if u.Admin && !u.Disabled {
			if u.Name != name {
				return nil
			}
			target = true
		}
	}
	if target {
		return ErrLastAdmin
	}
	return nil
}

// NewToken is a request for an application token.
type NewToken struct {
	Name      string
	Scope     string
	ExpiresAt *time.Time
	Replace   bool
	Via       string
}

// CreateToken mints an application token for owner. The plaintext is in
// the result and nowhere else: only its HMAC is stored.
func (s *Service) CreateToken(actor Actor, owner string, req NewToken) (apitypes.CreatedToken, error) {
	if err := ValidateTokenName(req.Name); err != nil {
		return apitypes.CreatedToken{}, err
	}
	scope, err := NormalizeScope(req.Scope)
	if err != nil {
		return apitypes.CreatedToken{}, err
	}
	now := s.now().UTC()
	if req.ExpiresAt != nil {
		if !req.ExpiresAt.After(now) {
			return apitypes.CreatedToken{}, &FieldError{"expires_at", "must be in the future"}
		}
		at := req.ExpiresAt.UTC()
		req.ExpiresAt = &at
	}
	plain, err := apptoken.New()
	if err != nil {
		return apitypes.CreatedToken{}, err
	}
	id, err := newID()
	if err != nil {
		return apitypes.CreatedToken{}, err
	}
	t := model.Token{
		ID: id, Owner: owner, Name: req.Name, Hash: s.TokenHash(plain), Scope: scope,
		CreatedAt: now, ExpiresAt: req.ExpiresAt, CreatedVia: req.Via,
	}
	replaced, err := s.store.CreateToken(model.NewToken{Token: t, Limit: s.max, Replace: req.Replace})
	switch {
	case errors.Is(err, model.ErrNotFound):
		return apitypes.CreatedToken{}, ErrNotFound
	case errors.Is(err, model.ErrNameTaken):
		return apitypes.CreatedToken{}, ErrNameTaken
	case errors.Is(err, model.ErrTokenLimit):
		return apitypes.CreatedToken{}, &LimitError{s.max}
	case err != nil:
		return apitypes.CreatedToken{}, err
	}
	if replaced != nil {
		s.audit(model.Activity{Action: "token.revoke", Actor: actor.Name, Subject: owner, TokenName: replaced.Name, ClientIP: actor.IP, Detail: "replaced by a new token of the same name"})
	}
	s.audit(model.Activity{Action: "token.create", Actor: actor.Name, Subject: owner, TokenName: t.Name, ClientIP: actor.IP, Detail: "scope " + scope + ", via " + t.CreatedVia})
	return apitypes.CreatedToken{ID: t.ID, Name: t.Name, Scope: t.Scope, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Token: plain}, nil
}

// Tokens lists owner's tokens without secrets, with last-used times that
// are not yet written included.
func (s *Service) Tokens(owner string) ([]apitypes.Token, error) {
	if _, err := s.UserLookup(owner); err != nil {
		return nil, err
	}
	list, err := s.store.Tokens(owner)
	if err != nil {
		return nil, err
	}
	s.usesMu.Lock()
	defer s.usesMu.Unlock()
	out := make([]apitypes.Token, 0, len(list))
	for _, t := range list {
		if at, ok := s.uses[t.ID]; ok && (t.LastUsedAt == nil || at.After(*t.LastUsedAt)) {
			t.LastUsedAt = &at
		}
		out = append(out, apitypes.Token{
			ID: t.ID, Name: t.Name, Scope: t.Scope, CreatedAt: t.CreatedAt,
			ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, CreatedVia: t.CreatedVia,
		})
	}
	return out, nil
}

// RevokeToken deletes owner's token id. It takes effect at the next request.
func (s *Service) RevokeToken(actor Actor, owner, id string) error {
	t, err := s.store.RevokeToken(owner, id)
	if errors.Is(err, model.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	s.usesMu.Lock()
	delete(s.uses, id)
	s.usesMu.Unlock()
	s.audit(model.Activity{Action: "token.revoke", Actor: actor.Name, Subject: owner, TokenName: t.Name, ClientIP: actor.IP})
	return nil
}

// Activities returns a page of the audit log as viewer may see it: their
// own entries, or everybody's for an administrator (optionally one user's).
func (s *Service) Activities(viewer Principal, user string, before uint64, limit int) ([]model.Activity, error) {
	// An application token never has admin reach, even an admin's: it
	// sees its owner's entries only.
	if !viewer.Admin() || viewer.Token != nil {
		user = viewer.Name()
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	return s.store.Activities(model.ActivityQuery{User: user, Before: before, Limit: limit})
}

// Record adds an entry to the audit log, for actions decided outside this
// package (web sign-in, sign-out).
func (s *Service) Record(a model.Activity) { s.audit(a) }

func (s *Service) audit(a model.Activity) {
	if a.Time.IsZero() {
		a.Time = s.now().UTC()
	}
	if err := s.store.AddActivity(a, s.keep); err != nil {
		s.log.Error("could not write the audit log", "action", a.Action, "actor", a.Actor, "err", err)
	}
}

// noteUse remembers a token's use; Flush writes the batch.
func (s *Service) noteUse(id string, at time.Time) {
	s.usesMu.Lock()
	s.uses[id] = at
	s.usesMu.Unlock()
}

// Flush writes pending last-used times in one transaction. On failure they
// are kept for the next attempt.
func (s *Service) Flush() error {
	s.usesMu.Lock()
	batch := s.uses
	s.uses = map[string]time.Time{}
	s.usesMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.store.RecordTokenUse(batch)
	if err != nil {
		s.usesMu.Lock()
		for id, at := range batch {
			if cur, ok := s.uses[id]; !ok || at.After(cur) {
				s.uses[id] = at
			}
		}
		s.usesMu.Unlock()
		return fmt.Errorf("writing last-used times: %w", err)
	}
	return nil
}

// RunFlusher writes last-used times every interval until ctx ends. The
// caller flushes once more after the last request has finished.
func (s *Service) RunFlusher(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Flush(); err != nil {
				s.log.Error("batched last-used write failed; will retry", "err", err)
			}
		}
	}
}

func newID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
