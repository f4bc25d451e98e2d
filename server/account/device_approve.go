package account

import (
	"errors"
	"fmt"
	"time"

	"github.com/portusproject/portus/server/model"
)

// The approval side of the device grant (see device.go): a signed-in user
// looks a user code up, sees what asks, and approves or denies it.

// Errors of the approval page.
var (
	// ErrUserCodeUnknown: no pending request has this code (never issued,
	// mistyped, expired or decided already). It counts as a failure.
	ErrUserCodeUnknown = errors.New("no waiting request has this code: check it against the code your terminal shows, or start the login again there (codes expire)")
	// ErrDeviceDecided: the request was approved or denied already.
	ErrDeviceDecided = errors.New("this request was approved or denied already; start the login again in your terminal if you need a new one")
)

// deviceThrottleKey is the throttle's username for user-code failures of
// user: apart from their password failures (a ':' is in no username), so
// that mistyped codes never lock anyone's password, and the reverse.
func deviceThrottleKey(user string) string { return "device:" + user }

// DeviceByUserCode returns the pending grant whose user code is typed (see
// NormalizeUserCode), for actor to confirm. Checks are counted and
// serialised by the sign-in throttle as password checks are: one at a
// time per user and per address, so that a burst of guesses meets the
// delays its own failures earn; a code that finds nothing counts against
// actor's user and address like a wrong password, and a right one resets
// nothing (else guesses mixed with codes the guesser requested would never
// lock). While they must wait, a *ThrottledError.
func (s *Service) DeviceByUserCode(actor Actor, typed string) (model.DeviceGrant, error) {
	key := deviceThrottleKey(actor.Name)
	if wait := s.throttle.BeginPassword(key, actor.IP); wait > 0 {
		return model.DeviceGrant{}, &ThrottledError{wait}
	}
	defer s.throttle.EndPassword(key, actor.IP)
	code, ok := NormalizeUserCode(typed)
	var (
		g   model.DeviceGrant
		err = ErrUserCodeUnknown
	)
	if ok {
		g, err = s.store.DeviceGrantByUserCode(s.userCodeHash(code))
	}
	switch {
	case err == nil && g.Expired(s.now()):
		err = ErrUserCodeUnknown
	case err == nil && g.State != model.DevicePending:
		return model.DeviceGrant{}, ErrDeviceDecided
	case errors.Is(err, model.ErrNotFound):
		err = ErrUserCodeUnknown
	}
	if errors.Is(err, ErrUserCodeUnknown) {
		s.throttle.Fail(key, actor.IP)
		return model.DeviceGrant{}, err
	}
	if err != nil {
		return model.DeviceGrant{}, err
	}
	return g, nil
}

// DecideDevice approves (approve true) or denies the pending grant of the
// typed user code as actor. Approving checks the token limit first, so
// that the user learns here rather than in the terminal that a token must
// go; the token itself is made at the client's next poll. Errors:
// ErrUserCodeUnknown, ErrDeviceDecided, *ThrottledError, *LimitError.
func (s *Service) DecideDevice(actor Actor, typed string, approve bool) (model.DeviceGrant, error) {
	g, err := s.DeviceByUserCode(actor, typed)
	if err != nil {
		return model.DeviceGrant{}, err
	}
	if approve {
		if err := s.deviceRoom(actor.Name, g.TokenName); err != nil {
			return model.DeviceGrant{}, err
		}
	}
	state := model.DeviceDenied
	if approve {
		state = model.DeviceApproved
	}
	now := s.now().UTC()
	g, err = s.store.UpdateDeviceGrant(g.DeviceHash, func(g *model.DeviceGrant) error {
		switch {
		case g.Expired(now):
			return ErrUserCodeUnknown
		case g.State != model.DevicePending:
			return ErrDeviceDecided
		}
		g.State, g.User, g.DecidedFrom, g.DecidedAt = state, actor.Name, actor.IP, now
		return nil
	})
	if errors.Is(err, model.ErrNotFound) {
		return model.DeviceGrant{}, ErrUserCodeUnknown
	}
	if err != nil {
		return model.DeviceGrant{}, err
	}
	action := "device.deny"
	if approve {
		action = "device.approve"
	}
	s.audit(model.Activity{Action: action, Actor: actor.Name, Subject: actor.Name, TokenName: g.TokenName, ClientIP: actor.IP,
		Detail: fmt.Sprintf("client %s, %s scope, requested from %s at %s", g.ClientID, g.Scope, g.ClientIP, g.CreatedAt.Format(time.RFC3339))})
	return g, nil
}

// deviceRoom reports a *LimitError when user holds the most application
// tokens already, none of them named name (which the new one replaces).
// It counts as CreateToken's store does: expired tokens free their slot.
func (s *Service) deviceRoom(user, name string) error {
	list, err := s.store.Tokens(user)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	n := 0
	for _, t := range list {
		if t.Login() {
			continue
		}
		if t.Name == name {
			return nil
		}
		if !s.tokenExpired(t, now) {
			n++
		}
	}
	if n >= s.max {
		return &LimitError{s.max}
	}
	return nil
}
