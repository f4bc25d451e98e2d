package account

import (
	"errors"
	"fmt"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// NewToken is a request for an application token.
type NewToken struct {
	Name      string
	Scope     string
	ExpiresAt *time.Time
	Replace   bool
	Via       string
}

// MaxTokenLifetimeDays bounds how far ahead a token's expiry may be set
// (ten years), for the API and the web form alike. A later expiry is no
// safer than none and only looks like a limit.
const MaxTokenLifetimeDays = 3650

// MaxTokenLifetime is MaxTokenLifetimeDays as a duration.
const MaxTokenLifetime = MaxTokenLifetimeDays * 24 * time.Hour

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
		if req.ExpiresAt.After(now.Add(MaxTokenLifetime)) {
			return apitypes.CreatedToken{}, &FieldError{"expires_at", fmt.Sprintf("must be within %d days (10 years)", MaxTokenLifetimeDays)}
		}
		at := req.ExpiresAt.UTC()
		req.ExpiresAt = &at
	}
	if req.ExpiresAt == nil {
		req.ExpiresAt = s.unattendedExpiry(req.Via, now)
	}
	if err := s.checkLifetime(req.ExpiresAt, now); err != nil {
		return apitypes.CreatedToken{}, err
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
	// Expired tokens free their slot; whether one is idle needs the last
	// uses written.
	if s.policy.Idle > 0 {
		if err := s.Flush(); err != nil {
			s.log.Warn("new token: last-used times not written; an idle token may look expired", "err", err)
		}
	}
	replaced, err := s.store.CreateToken(model.NewToken{Token: t, Limit: s.max, Replace: req.Replace, Now: now, Rules: s.rules()})
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
		s.publish(tokenEvent(model.EventTokenRevoked, *replaced, "replaced", actor.IP))
	}
	s.audit(model.Activity{Action: "token.create", Actor: actor.Name, Subject: owner, TokenName: t.Name, ClientIP: actor.IP, Detail: "scope " + scope + ", via " + t.CreatedVia})
	s.publish(tokenEvent(model.EventTokenCreated, t, "", actor.IP))
	return WireCreatedToken(t, plain), nil
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
	now := s.now()
	out := make([]apitypes.Token, 0, len(list))
	for _, t := range list {
		t = s.withPendingUse(t)
		w := WireToken(t)
		w.Expired = t.ExpiredUnder(now, s.rules().For(t)) // the pending use is applied
		w.ExpiresSoon = s.expiresSoon(t, now)
		out = append(out, w)
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
	s.forgetUse(id)
	s.audit(model.Activity{Action: "token.revoke", Actor: actor.Name, Subject: owner, TokenName: t.Name, ClientIP: actor.IP})
	s.publish(tokenEvent(model.EventTokenRevoked, t, "user", actor.IP))
	return nil
}

// RevokeAllTokens revokes every application token of owner and returns how
// many it revoked.
func (s *Service) RevokeAllTokens(actor Actor, owner string) (int, error) {
	list, err := s.Tokens(owner)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range list {
		err := s.RevokeToken(actor, owner, t.ID)
		if errors.Is(err, ErrNotFound) {
			continue // revoked meanwhile
		}
		if err != nil {
			return n, fmt.Errorf("revoking token %q: %w", t.Name, err)
		}
		n++
	}
	return n, nil
}
