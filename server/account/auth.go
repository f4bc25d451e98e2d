package account

import (
	"crypto/subtle"
	"errors"
	"hash"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apptoken"
)

// Every "who is this" path is here: an application token, a password
// (local hash, or the directory as a backend: ldap.go), and the registry
// token endpoint's docker_login policy on top of both. A failed check of
// a secret goes through failed or tokenFailed: the throttle, the failure
// metric and the rate-limited audit entry in one place.

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
	return s.authenticateToken(name, true, token, ip)
}

// AuthenticateBearer checks a token that comes without a username (an
// identity token: the refresh grant, Authorization: Bearer): its owner is
// the principal. Same cost, throttle and refusals as AuthenticateToken.
func (s *Service) AuthenticateBearer(token, ip string) (Principal, error) {
	return s.authenticateToken("", false, token, ip)
}

func (s *Service) authenticateToken(name string, named bool, token, ip string) (Principal, error) {
	if wait := s.throttle.Wait(name, ip, false); wait > 0 {
		return Principal{}, s.throttled(name, ip, wait)
	}
	if apptoken.Check(token) != nil {
		return Principal{}, s.tokenFailed(name, ip, "malformed token")
	}
	hash := s.TokenHash(token)
	t, u, err := s.store.SecretByHash(hash, s.now())
	if reused := (*model.ReusedSecretError)(nil); errors.As(err, &reused) {
		return Principal{}, s.reuseRefused(name, ip, reused)
	}
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
	case named && subtle.ConstantTimeCompare([]byte(u.Name), []byte(name)) != 1:
		return Principal{}, s.tokenFailed(name, ip, "token of another user")
	case u.Disabled:
		return Principal{}, s.tokenFailed(u.Name, ip, "disabled user")
	case s.tokenExpired(t, now):
		return Principal{}, s.tokenFailed(u.Name, ip, "expired token")
	}
	// No throttle.Succeed: a token in use must not reset the password
	// counters of its owner, or a busy CI job would lift a lock an
	// attacker earned.
	s.noteUse(t.ID, model.TokenUse{At: now, Addr: ip})
	return Principal{User: u, Token: &t}, nil
}

// AuthenticatePassword checks a password for name with the password hash
// or, for LDAP accounts, the directory (see ldap.go for the order).
func (s *Service) AuthenticatePassword(name, password, ip string) (Principal, error) {
	if wait := s.throttle.BeginPassword(name, ip); wait > 0 {
		return Principal{}, s.throttled(name, ip, wait)
	}
	defer s.throttle.EndPassword(name, ip)
	u, err := s.store.User(name)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return Principal{}, err
	}
	if s.askDirectory(u, password) {
		if p, err, decided := s.authenticateDirectory(name, password, ip, u, err == nil); decided {
			// Equal work: the directory decided without an argon2 run, which
			// a local password costs; without one, the answer's speed would
			// tell which names have a local password.
			s.verifyPassword(password, s.dummy())
			return p, err
		}
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = s.dummy()
	}
	// A legacy (imported bcrypt) hash that matches comes back rehashed
	// with argon2id, stored below once the sign-in is known to succeed.
	ok, rehash, herr := s.verifyPassword(password, hash)
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
	if rehash != "" {
		u = s.replaceLegacyHash(u, rehash, ip)
	}
	s.throttle.Succeed(name, ip)
	return Principal{User: u}, nil
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

// Every refused authentication — a wrong or unknown secret, a disabled
// account, a throttled client, a password under tokens_only, a directory
// that is not answering — ends in refuse: the throttle counts it (by the
// kind of credential), the metric is told, and the failure audit writes a
// rate-limited entry. No refusal writes the audit log any other way, so
// none can flood it past the throttle.

// Kinds of refusal, for refuse.
const (
	refusedPassword = "password" // counted against the name and the address
	refusedToken    = "token"    // counted against the address only
	// refusedUncounted is recorded but not counted: the client is already
	// waiting (throttled), or the fault is the server's (directory down).
	refusedUncounted = ""
)

func (s *Service) refuse(kind, name, ip, reason string) {
	switch kind {
	case refusedPassword:
		s.throttle.Fail(name, ip)
	case refusedToken:
		s.throttle.FailToken(ip)
	}
	if kind != refusedUncounted && s.onFail != nil {
		s.onFail(kind)
	}
	s.auditFailure(model.Activity{Action: model.ActionAuthFailure, Actor: failedName(name), ClientIP: ip, Detail: reason})
}

// failed refuses a password and returns ErrAuthFailed. The reason goes to
// the audit log, never to the client.
func (s *Service) failed(name, ip, reason string) error {
	s.refuse(refusedPassword, name, ip, reason)
	return ErrAuthFailed
}

// tokenFailed is failed for an application token.
func (s *Service) tokenFailed(name, ip, reason string) error {
	s.refuse(refusedToken, name, ip, reason)
	return ErrAuthFailed
}

// throttled refuses a client that must wait.
func (s *Service) throttled(name, ip string, wait time.Duration) error {
	s.refuse(refusedUncounted, name, ip, "throttled")
	return &ThrottledError{wait}
}

// failedName is the claimed username as the audit log may keep it: a
// secret typed into the username field (it happens) is not stored.
func failedName(name string) string {
	if name == "" || ValidateUsername(name) == nil {
		return name
	}
	return apptoken.Redact(name)
}

// DockerLogin policies: whether /v2/token accepts passwords or only
// application tokens.
const (
	DockerLoginPasswordsAllowed = "passwords_allowed"
	DockerLoginTokensOnly       = "tokens_only"
)

// TokensRequiredError refuses a password at the registry token endpoint
// for a user whose docker_login policy is tokens_only.
type TokensRequiredError struct{ ProfileURL string }

func (e *TokensRequiredError) Error() string {
	where := "on your profile page"
	if e.ProfileURL != "" {
		where += " " + e.ProfileURL
	}
	return "this server does not accept passwords for docker login: create an application token " + where + " and use it as the password"
}

// ValidateDockerLogin checks a docker_login value; empty is allowed when
// allowEmpty (a user's "use the server's policy").
func ValidateDockerLogin(v string, allowEmpty bool) error {
	switch v {
	case DockerLoginPasswordsAllowed, DockerLoginTokensOnly:
		return nil
	case "":
		if allowEmpty {
			return nil
		}
	}
	return &FieldError{"docker_login", `must be "tokens_only", "passwords_allowed" or "" (the server's policy)`}
}

// AuthenticateRegistry is Authenticate for the registry token endpoint:
// it also enforces the docker_login policy, answering a refused password
// with a *TokensRequiredError (the same message for a user's own policy
// and the server's). Refusals are throttled and counted like wrong
// passwords: otherwise a loop of them would run at full speed and fill the
// audit log. Nothing in the answer or its time tells an outsider which
// names exist, have their own policy, or are exceptions to the server's.
func (s *Service) AuthenticateRegistry(name, secret, ip string) (Principal, error) {
	if !apptoken.LooksLike(secret) {
		policy, err := s.dockerLogin(name)
		if err != nil {
			return Principal{}, err
		}
		serverWide := s.passwords.DockerLogin == DockerLoginTokensOnly
		switch {
		case policy == DockerLoginTokensOnly && serverWide:
			return Principal{}, s.refuseTokensOnly(name, secret, ip)
		case policy == DockerLoginTokensOnly:
			// The user's own policy on a server that takes passwords: a
			// wrong password must read as it does for any other name, or
			// the answer would tell who has the policy. Only the right
			// one learns that it is refused.
			if _, err := s.AuthenticatePassword(name, secret, ip); err != nil {
				return Principal{}, err
			}
			s.refuse(refusedUncounted, name, ip, "password refused at the registry token endpoint: the user's docker_login is tokens_only")
			return Principal{}, &TokensRequiredError{s.passwords.ProfileURL}
		case serverWide:
			// An exception to the server's policy: a wrong password gets
			// the server's answer, so that exceptions cannot be listed.
			p, err := s.AuthenticatePassword(name, secret, ip)
			if errors.Is(err, ErrAuthFailed) {
				return Principal{}, &TokensRequiredError{s.passwords.ProfileURL}
			}
			return p, err
		}
	}
	return s.Authenticate(name, secret, ip)
}

// refuseTokensOnly refuses a password under the server's tokens_only
// policy, alike for every name, before any check (it never reaches the
// directory); a dummy argon2 run makes it cost what a checked password
// costs, so exceptions to the policy cannot be told by time either.
func (s *Service) refuseTokensOnly(name, password, ip string) error {
	if wait := s.throttle.Wait(name, ip, true); wait > 0 {
		return s.throttled(name, ip, wait)
	}
	s.verifyPassword(password, s.dummy())
	s.refuse(refusedPassword, name, ip, "password refused at the registry token endpoint: docker_login is tokens_only")
	return &TokensRequiredError{s.passwords.ProfileURL}
}

// dockerLogin is the policy in force for name: the user's override, else
// the server's.
func (s *Service) dockerLogin(name string) (string, error) {
	u, err := s.store.User(name)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return "", err
	}
	// An unknown name is the zero User: the server's policy.
	return s.DockerLoginOf(u).Policy, nil
}

// askDirectory reports whether AuthenticatePassword should ask the
// directory about this password for the account u (the zero User when the
