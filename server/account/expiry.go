package account

import (
	"fmt"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// The expiry policy of application tokens: how long they may and do last
// (max_token_lifetime, default_token_lifetime), how long they last unused
// (token_idle_expiry), and how long an expired one is kept to be seen
// (expired_token_keep). Login tokens have their own lifetimes
// (logintokens.go); both go through model.Token.ExpiryTime, so "expired"
// means one thing at sign-in, in the limit, on the pages and in the sweep
// (sweep.go).

// TokenPolicy is the expiry policy of application tokens.
type TokenPolicy struct {
	// MaxLifetime is the longest expiry a new token may have; zero allows
	// any, and no expiry.
	MaxLifetime time.Duration
	// DefaultLifetime is the expiry the web form offers first (default
	// DefaultTokenLifetime, capped at MaxLifetime).
	DefaultLifetime time.Duration
	// Idle is how long a token lasts unused; zero is forever.
	Idle time.Duration
	// Keep is how long an expired token stays listed before the sweep
	// deletes it (default DefaultExpiredTokenKeep).
	Keep time.Duration
}

// Defaults of TokenPolicy.
const (
	DefaultTokenLifetime    = 90 * 24 * time.Hour
	DefaultExpiredTokenKeep = 30 * 24 * time.Hour
	// ExpiringSoon is how far ahead a token counts as expiring soon: the
	// profile's banner, the API's expires_soon, the token.expiring event
	// and the metric.
	ExpiringSoon = 7 * 24 * time.Hour
)

func (p TokenPolicy) withDefaults() TokenPolicy {
	if p.DefaultLifetime <= 0 {
		p.DefaultLifetime = DefaultTokenLifetime
	}
	if p.MaxLifetime > 0 && p.DefaultLifetime > p.MaxLifetime {
		p.DefaultLifetime = p.MaxLifetime
	}
	if p.Keep <= 0 {
		p.Keep = DefaultExpiredTokenKeep
	}
	return p
}

// TokenPolicy is the policy in force, defaults applied.
func (s *Service) TokenPolicy() TokenPolicy { return s.policy }

// LifetimeError refuses a token asked for longer than MaxLifetime, or
// for no expiry while a maximum is set.
type LifetimeError struct{ Max time.Duration }

func (e *LifetimeError) Error() string {
	return fmt.Sprintf("this server's max_token_lifetime is %s: set expires_at no later than that from now", FormatLifetime(e.Max))
}

// FormatLifetime words a lifetime for people: "90 days", "36h0m0s".
func FormatLifetime(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}

// unattendedExpiry is the expiry of a token that a program asks for
// without one — the helper's docker login exchange, the device grant —
// where no person could pick a lifetime: under a max_token_lifetime it is
// the default lifetime, so that these logins keep working where the
// policy refuses tokens without expiry (the helper's rotate_after restarts
// it); without a maximum such tokens keep none, as before the policy.
func (s *Service) unattendedExpiry(via string, now time.Time) *time.Time {
	if s.policy.MaxLifetime <= 0 || (via != apitypes.ViaHelper && via != apitypes.ViaDevice) {
		return nil
	}
	at := now.Add(s.policy.DefaultLifetime)
	return &at
}

// checkLifetime applies MaxLifetime to a new token's expiry.
func (s *Service) checkLifetime(expires *time.Time, now time.Time) error {
	max := s.policy.MaxLifetime
	if max > 0 && (expires == nil || expires.After(now.Add(max))) {
		return &LifetimeError{max}
	}
	return nil
}

// rules are the expiry rules of both kinds of token. A login token is
// a token too: the policy's max_token_lifetime and token_idle_expiry cap
// its own login_token_max_age and login_token_idle, or a password docker
// login would leave a token that outlives what the policy allows.
func (s *Service) rules() model.ExpiryRules {
	return model.ExpiryRules{
		App:   model.ExpiryRule{Idle: s.policy.Idle},
		Login: model.ExpiryRule{Idle: capped(s.login.Idle, s.policy.Idle), MaxAge: capped(s.login.MaxAge, s.policy.MaxLifetime)},
	}
}

// capped is d, at most limit when limit is set (above zero).
func capped(d, limit time.Duration) time.Duration {
	if limit > 0 && limit < d {
		return limit
	}
	return d
}

// withPendingUse is t with its use not yet written, if any: the stored
// last use may lag by one flush interval.
func (s *Service) withPendingUse(t model.Token) model.Token {
	s.usesMu.Lock()
	if u, ok := s.uses[t.ID]; ok {
		model.ApplyUse(&t, u)
	}
	s.usesMu.Unlock()
	return t
}

// tokenExpired reports whether t no longer works at now: past its
// expiry, its kind's maximum age, or idle for too long, counting a use
// not yet written. Only expired-looking tokens pay for the lock.
func (s *Service) tokenExpired(t model.Token, now time.Time) bool {
	rule := s.rules().For(t)
	return t.ExpiredUnder(now, rule) && s.withPendingUse(t).ExpiredUnder(now, rule)
}

// expiresSoon reports whether t works at now but not ExpiringSoon later.
// t must have its pending use applied.
func (s *Service) expiresSoon(t model.Token, now time.Time) bool {
	at := t.ExpiryTime(s.rules().For(t))
	return at != nil && now.Before(*at) && !now.Add(ExpiringSoon).Before(*at)
}
