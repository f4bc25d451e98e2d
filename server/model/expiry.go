package model

import "time"

// When tokens stop working. A token expires at the earliest of its
// ExpiresAt, its creation plus the rule's MaxAge and its last activity
// plus the rule's Idle. Application and login tokens have a rule each
// (the server's token_idle_expiry; login_token_idle and _max_age), so
// one computation answers for both: at sign-in, in the limit of
// CreateToken, in the sweep that warns about and deletes expired tokens.

// ExpiryRule is how long tokens of one kind last besides their ExpiresAt.
// A zero field is no limit.
type ExpiryRule struct {
	// Idle is how long a token lasts unused (since Token.LastActive).
	Idle time.Duration
	// MaxAge is how long a token lasts since it was created.
	MaxAge time.Duration
}

// ExpiryRules are the rules of both kinds of token.
type ExpiryRules struct {
	App, Login ExpiryRule
}

// For returns the rule of t's kind.
func (r ExpiryRules) For(t Token) ExpiryRule {
	if t.Login() {
		return r.Login
	}
	return r.App
}

// ExpiryTime is when t stops working under r as it is stored now (a
// later use moves an idle expiry), or nil if never.
func (t Token) ExpiryTime(r ExpiryRule) *time.Time {
	var at *time.Time
	earliest := func(x time.Time) {
		if at == nil || x.Before(*at) {
			at = &x
		}
	}
	if t.ExpiresAt != nil {
		earliest(*t.ExpiresAt)
	}
	if r.MaxAge > 0 {
		earliest(t.CreatedAt.Add(r.MaxAge))
	}
	if r.Idle > 0 {
		earliest(t.LastActive().Add(r.Idle))
	}
	return at
}

// ExpiredUnder reports whether t no longer works at now under r.
func (t Token) ExpiredUnder(now time.Time, r ExpiryRule) bool {
	at := t.ExpiryTime(r)
	return at != nil && !now.Before(*at)
}

// TokenUse is one use of a token, as RecordTokenUse keeps it.
type TokenUse struct {
	At time.Time
	// Addr is the client's address; Client its User-Agent, cut to
	// MaxClientLen bytes.
	Addr, Client string
}

// MaxClientLen is how much of a User-Agent a token keeps.
const MaxClientLen = 100

// ApplyUse sets t's last use to u unless t was used later already, and
// reports whether it changed t: the rule of RecordTokenUse.
func ApplyUse(t *Token, u TokenUse) bool {
	if t.LastUsedAt != nil && !u.At.After(*t.LastUsedAt) {
		return false
	}
	at := u.At
	t.LastUsedAt, t.LastUsedAddr, t.LastUsedClient = &at, u.Addr, u.Client
	return true
}

// MarkNotified sets t.Notified[event] to expiry unless it is already so,
// and reports whether it changed t: the rule of MarkTokenNotified.
func MarkNotified(t *Token, event string, expiry time.Time) bool {
	if at, ok := t.Notified[event]; ok && at.Equal(expiry) {
		return false
	}
	if t.Notified == nil {
		t.Notified = map[string]time.Time{}
	}
	t.Notified[event] = expiry.UTC()
	return true
}
