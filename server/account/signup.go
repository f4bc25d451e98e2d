package account

import (
	"errors"
	"fmt"
	"time"

	"github.com/portusproject/portus/server/model"
)

// ErrNameUnavailable is sign-up's one refusal of a well-formed name, taken
// (by an active or a disabled account) or reserved alike, so that the
// answer does not say which.
var ErrNameUnavailable = errors.New("that name cannot be used; choose another name")

// SignupThrottledError is returned while a client address has used up its
// sign-ups (see SignupBurst).
type SignupThrottledError struct{ RetryAfter time.Duration }

func (e *SignupThrottledError) Error() string {
	return fmt.Sprintf("too many sign-ups from this address; try again in %d seconds", retrySeconds(e.RetryAfter))
}

// RetrySeconds is the Retry-After value for the wait, rounded up.
func (e *SignupThrottledError) RetrySeconds() int { return retrySeconds(e.RetryAfter) }

// SignUp creates an account for someone who is not signed in (the web
// sign-up page); the first account of a server becomes its administrator.
// Each call counts against the limit of the client address actor.IP, and
// past it returns a *SignupThrottledError without looking at the name.
//
// A taken or reserved name is refused with ErrNameUnavailable only after
// the password has been checked and hashed, as for a new name: the answer,
// and the argon2 run it costs, are the same whether the name is taken,
// disabled or reserved. A malformed name or password is refused first with
// its *FieldError, which tells nothing about existing accounts.
func (s *Service) SignUp(actor Actor, name, password string) (model.User, error) {
	if wait := s.signups.take(actor.IP); wait > 0 {
		return model.User{}, &SignupThrottledError{wait}
	}
	reserved := name == LocalAdminName
	if !reserved {
		if err := ValidateUsername(name); err != nil {
			return model.User{}, err
		}
	}
	hash, err := s.newPasswordHash(password)
	if err != nil {
		return model.User{}, err
	}
	if reserved {
		return model.User{}, ErrNameUnavailable
	}
	u, err := s.addUser(actor, model.User{Name: name, PasswordHash: hash}, true)
	if errors.Is(err, ErrUserExists) {
		return model.User{}, ErrNameUnavailable
	}
	return u, err
}
