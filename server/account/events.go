package account

import "github.com/portusproject/portus/server/model"

// tokenEvent is the model.Event of something that happened to t: names,
// ids and times only, never its hash.
func tokenEvent(typ string, t model.Token, reason, ip string) model.Event {
	return model.Event{Type: typ, User: t.Owner, TokenID: t.ID, TokenName: t.Name, Scope: t.Scope,
		ExpiresAt: t.ExpiresAt, Reason: reason, Address: ip}
}

// userLocked publishes user.locked when the throttle locks an existing
// account's password (a guessed name that has no account is not news).
// The throttle calls it after releasing its lock.
func (s *Service) userLocked(user, ip string) {
	if s.events == nil {
		return
	}
	if _, err := s.store.User(user); err != nil {
		return
	}
	s.publish(model.Event{Type: model.EventUserLocked, User: user, Reason: "failed passwords", Address: ip})
}
