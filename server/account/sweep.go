package account

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portusproject/portus/server/model"
)

// The expiry sweep: every SweepEvery, the flusher (lastused.go) also
// publishes token.expiring for application tokens that expire within
// ExpiringSoon and token.expired for those that have (login tokens come
// and go with docker logins: nobody is told), each per token and expiry
// under one id, queued and then marked in the store (so that neither a
// restart nor a second replica tells again; a crash in between, or two
// replicas at once, tells again under the same id), counts the tokens expiring soon for the metric, and deletes
// tokens expired longer than TokenPolicy.Keep ago. A scan of all tokens
// is affordable every few minutes, never per request.

// SweepEvery is how often the flusher sweeps.
const SweepEvery = 5 * time.Minute

type sweepState struct {
	mu       sync.Mutex // one sweep at a time
	last     time.Time
	expiring atomic.Int64 // tokens expiring within ExpiringSoon, at the last sweep
	swept    atomic.Bool
}

// maybeSweep sweeps if SweepEvery has passed since the last sweep.
func (s *Service) maybeSweep() {
	s.sweep.mu.Lock()
	due := s.sweep.last.IsZero() || s.now().Sub(s.sweep.last) >= SweepEvery
	s.sweep.mu.Unlock()
	if !due {
		return
	}
	if err := s.SweepTokens(); err != nil {
		s.log.Error("token expiry sweep failed; will retry", "err", err)
	}
}

// SweepTokens publishes the expiry events that are due, counts the
// tokens expiring soon and deletes those expired longer than
// TokenPolicy.Keep ago.
func (s *Service) SweepTokens() error {
	s.sweep.mu.Lock()
	defer s.sweep.mu.Unlock()
	// Idle expiry is computed from the stored last uses.
	if err := s.Flush(); err != nil {
		return err
	}
	now := s.now().UTC()
	s.sweep.last = now
	rules := s.rules()
	list, err := s.store.TokensExpiringBy(now.Add(ExpiringSoon), rules)
	if err != nil {
		return fmt.Errorf("listing expiring tokens: %w", err)
	}
	soon := 0
	for _, t := range list {
		if t.Login() {
			continue // the next docker login makes another: nobody to warn
		}
		exp := *t.ExpiryTime(rules.For(t))
		event := model.EventTokenExpired
		if now.Before(exp) {
			soon++
			event = model.EventTokenExpiring
		}
		if err := s.notifyExpiry(t, event, exp, rules.For(t)); err != nil {
			return err
		}
	}
	s.sweep.expiring.Store(int64(soon))
	s.sweep.swept.Store(true)
	deleted, err := s.store.DeleteExpiredTokens(now.Add(-s.policy.Keep), rules)
	for _, t := range deleted {
		s.forgetUse(t.ID)
		s.log.Info("deleted an expired token", "owner", t.Owner, "token", t.Name, "expired_token_keep", s.policy.Keep.String())
	}
	if err != nil {
		return fmt.Errorf("deleting expired tokens: %w", err)
	}
	return nil
}

// notifyExpiry publishes event about t, which expires at exp, unless it
// was published for this expiry already. It queues the event first and
// marks it told after: a crash (or a store failure) between the two
// publishes it again at the next sweep, under the same id, where marking
// first would lose it for good. A queueing failure leaves the mark unset
// and ends the sweep with the error, so the next sweep tries again.
func (s *Service) notifyExpiry(t model.Token, event string, exp time.Time, rule model.ExpiryRule) error {
	if at, ok := t.Notified[event]; ok && at.Equal(exp) {
		return nil // told already; no write
	}
	e := model.Event{ID: expiryEventID(t.ID, event, exp), Type: event, User: t.Owner, TokenID: t.ID,
		TokenName: t.Name, Scope: t.Scope, ExpiresAt: &exp}
	if event == model.EventTokenExpired {
		e.Reason = "expired"
		if rule.Idle > 0 && exp.Equal(t.LastActive().Add(rule.Idle)) {
			e.Reason = "idle"
		}
	}
	if err := s.publish(e); err != nil {
		return fmt.Errorf("token %s of %s: %w", event, t.Owner, err)
	}
	_, err := s.store.MarkTokenNotified(t.ID, event, exp)
	return ignoreNotFound(err) // revoked meanwhile: its expiry event is harmless
}

// expiryEventID is the id of event about token id expiring at exp: the
// same every time it is published, so that a repeat (a crash between
// queueing and marking, or two replicas sweeping at once) is one event to
// a receiver that deduplicates by id.
func expiryEventID(id, event string, exp time.Time) string {
	sum := sha256.Sum256([]byte(id + "\x00" + event + "\x00" + exp.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:16])
}

func ignoreNotFound(err error) error {
	if errors.Is(err, model.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("marking an expiry notified: %w", err)
	}
	return nil
}

// ExpiringSoon is how many application tokens expire within
// ExpiringSoon: the last
// sweep's count, or before the first sweep a count of its own.
func (s *Service) ExpiringSoon() (int, error) {
	if s.sweep.swept.Load() {
		return int(s.sweep.expiring.Load()), nil
	}
	now := s.now()
	rules := s.rules()
	list, err := s.store.TokensExpiringBy(now.Add(ExpiringSoon), rules)
	n := 0
	for _, t := range list {
		if !t.Login() && !t.ExpiredUnder(now, rules.For(t)) {
			n++
		}
	}
	return n, err
}
