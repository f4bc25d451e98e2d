package account

import (
	"errors"
	"fmt"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// Rotation: a token gets a new secret and keeps its id, name, scope and
// slot. The old secret keeps working for the rotation grace, so that jobs
// already running with it finish; after that a use of it is refused like
// any wrong token, audited as token.reuse and shown on the owner's profile.
// A reuse never touches the live secret: whoever holds an old secret must
// not be able to kill the new one (GitLab's reuse rule lets them).

// Errors of a rotation.
var (
	// ErrRotated: the secret the rotation started from is no longer the
	// token's (another rotation won, or the caller holds a replaced one).
	ErrRotated = errors.New("this token was rotated meanwhile: use its newest secret, or rotate it by id with your password")
	// ErrReplacedSecret: a secret that a rotation replaced, still in its
	// grace, finishes running jobs but manages nothing: whoever holds only
	// an old secret must not revoke (or rotate) the live one.
	ErrReplacedSecret = errors.New("this secret was replaced by a rotation and works only until its grace ends, to finish running jobs: use the token's newest secret, or manage the token by id with your password")
	// ErrRotateExpired: an expired token is not brought back by rotation.
	ErrRotateExpired = errors.New("this token has expired and cannot be rotated; create a new token instead")
)

// retiredKeep is how long a replaced secret is remembered after its grace,
// so that a use of it is recognised as reuse rather than as a wrong token.
const retiredKeep = 30 * 24 * time.Hour

// ActionTokenRotate and ActionTokenReuse are the audit actions of rotation.
const (
	ActionTokenRotate = "token.rotate"
	ActionTokenReuse  = "token.reuse"
)

// Rotate gives owner's token id a new secret, returned once as at
// creation. Managing a token by id needs the password or a web session
// (the API's requirePassword), as revoking one does.
func (s *Service) Rotate(actor Actor, owner, id string) (apitypes.CreatedToken, error) {
	list, err := s.store.Tokens(owner)
	if err != nil {
		return apitypes.CreatedToken{}, err
	}
	for _, t := range list {
		if t.ID == id {
			return s.rotate(actor, t)
		}
	}
	return apitypes.CreatedToken{}, ErrNotFound
}

// RotateCurrent rotates the token that authenticated p. It must be the
// token's live secret: a replaced one, still in its grace, gets ErrRotated,
// so that of two holders only the newest secret rotates.
func (s *Service) RotateCurrent(p Principal, ip string) (apitypes.CreatedToken, error) {
	if p.Token == nil {
		return apitypes.CreatedToken{}, ErrAuthFailed
	}
	return s.rotate(p.Actor(ip), *p.Token)
}

func (s *Service) rotate(actor Actor, t model.Token) (apitypes.CreatedToken, error) {
	now := s.now().UTC()
	if s.tokenExpired(t, now) {
		return apitypes.CreatedToken{}, ErrRotateExpired
	}
	plain, err := apptoken.New()
	if err != nil {
		return apitypes.CreatedToken{}, err
	}
	r := model.Rotation{
		Owner: t.Owner, ID: t.ID, From: t.Hash, Hash: s.TokenHash(plain),
		ExpiresAt: s.rotatedExpiry(t, now), At: now,
		GraceUntil: now.Add(s.rotationGrace), KeepUntil: now.Add(s.rotationGrace + retiredKeep),
	}
	rotated, err := s.store.RotateToken(r)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return apitypes.CreatedToken{}, ErrNotFound
	case errors.Is(err, model.ErrRotated):
		return apitypes.CreatedToken{}, ErrRotated
	case err != nil:
		return apitypes.CreatedToken{}, err
	}
	s.audit(model.Activity{Action: ActionTokenRotate, Actor: actor.Name, Subject: t.Owner, TokenName: t.Name, ClientIP: actor.IP,
		Detail: fmt.Sprintf("new secret; the old one works for %s more", s.rotationGrace)})
	s.publish(model.Event{Type: model.EventTokenRotated, User: t.Owner, TokenID: t.ID, TokenName: t.Name,
		Scope: t.Scope, ExpiresAt: rotated.ExpiresAt, Address: actor.IP})
	created := WireCreatedToken(rotated, plain)
	return created, nil
}

// rotatedExpiry is the expiry of t's new secret: its lifetime restarts,
// as long as it was (ExpiresAt − Issued); a token without expiry keeps
// none.
func (s *Service) rotatedExpiry(t model.Token, now time.Time) *time.Time {
	if t.ExpiresAt == nil {
		return s.capLifetime(nil, now)
	}
	at := now.Add(t.ExpiresAt.Sub(t.Issued()))
	return s.capLifetime(&at, now)
}

// capLifetime is the one place where a rotated token's expiry meets the
// server's expiry policy: under a max_token_lifetime, exp (a nil one, for
// no expiry, included) is at most now plus the maximum, so a rotation
// never outlives what a new token could have.
func (s *Service) capLifetime(exp *time.Time, now time.Time) *time.Time {
	limit := s.policy.MaxLifetime
	if limit <= 0 {
		return exp
	}
	if capped := now.Add(limit); exp == nil || exp.After(capped) {
		return &capped
	}
	return exp
}

// reuseRefused refuses a replaced secret used after its grace: refused and
// counted like a wrong token (refuse), and, at most once per token and
// address per failureAuditEvery, audited for its owner as token.reuse and
// published. The live secret is left alone.
func (s *Service) reuseRefused(name, ip string, r *model.ReusedSecretError) error {
	s.refuse(refusedToken, name, ip, fmt.Sprintf("a replaced secret of token '%s' of %s", r.Name, r.Owner))
	if ok, _ := s.failures.admit(ActionTokenReuse+"\x00"+r.TokenID, ip, s.now()); !ok {
		return ErrAuthFailed
	}
	s.audit(model.Activity{Action: ActionTokenReuse, Actor: failedName(name), Subject: r.Owner, TokenName: r.Name, ClientIP: ip,
		Detail: "a replaced secret was used after its grace and refused; the live secret still works"})
	s.publish(model.Event{Type: model.EventTokenReuse, User: r.Owner, TokenID: r.TokenID, TokenName: r.Name, Address: ip})
	return ErrAuthFailed
}

// ReuseNotice is one flag on a profile: a replaced secret of a token was
// used, from an address.
type ReuseNotice struct {
	TokenName, Address string
	Time               time.Time
}

func (n ReuseNotice) String() string {
	return fmt.Sprintf("a replaced secret of '%s' was used from %s", n.TokenName, n.Address)
}

// reuseWindow is how far back the profile looks for reuses.
const reuseWindow = 30 * 24 * time.Hour

// ReuseNotices are the reuses of owner's replaced secrets in the last 30
// days, from the owner's most recent audit entries, newest first, one per
// token and address.
func (s *Service) ReuseNotices(owner string) ([]ReuseNotice, error) {
	list, err := s.store.Activities(model.ActivityQuery{User: owner, Limit: 200})
	if err != nil {
		return nil, err
	}
	since := s.now().Add(-reuseWindow)
	seen := map[string]bool{}
	var out []ReuseNotice
	for _, a := range list {
		key := a.TokenName + "\x00" + a.ClientIP
		if a.Action != ActionTokenReuse || a.Subject != owner || a.Time.Before(since) || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, ReuseNotice{TokenName: a.TokenName, Address: a.ClientIP, Time: a.Time})
	}
	return out, nil
}

// RotationGrace is how long a replaced secret keeps working.
func (s *Service) RotationGrace() time.Duration { return s.rotationGrace }
