package account

import (
	"crypto/subtle"
	"errors"

	"github.com/portusproject/portus/server/model"
)

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
	hash, err := s.newPasswordHash(password)
	if err != nil {
		return model.User{}, err
	}
	return s.addUser(actor, model.User{Name: name, PasswordHash: hash, Admin: admin}, firstIsAdmin)
}

// newPasswordHash checks the password rules, then hashes the password.
func (s *Service) newPasswordHash(password string) (string, error) {
	if err := ValidatePassword(password); err != nil {
		return "", err
	}
	return HashPassword(password, s.params)
}

// addUser stores a validated account, created now, and audits it.
func (s *Service) addUser(actor Actor, nu model.User, firstIsAdmin bool) (model.User, error) {
	nu.CreatedAt = s.now().UTC()
	u, err := s.store.CreateUser(nu, firstIsAdmin)
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
	s.audit(model.Activity{Action: "user.create", Actor: actor.Name, Subject: nu.Name, ClientIP: actor.IP, Detail: detail})
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
		var err error
		if hash, err = s.newPasswordHash(*c.Password); err != nil {
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
			if u.Source == model.SourceOIDC {
				return errSSOPassword
			}
			u.PasswordHash = hash
			events = append(events, "user.password.change")
		}
		// Recorded whenever it is set, changed or not: an administrator who
		// sets the value a user chose takes the setting over (the user can
		// no longer switch it off).
		if c.DockerLogin != nil && (*c.DockerLogin != u.DockerLogin || u.DockerLoginBy != actor.Name) {
			u.DockerLogin = *c.DockerLogin
			u.DockerLoginBy = actor.Name
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
	if (c.Disabled != nil && *c.Disabled) || hash != "" {
		// A new password set for someone (a reset) ends the sessions the
		// old one opened, as a change by the user does.
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

// endUserSessions deletes every session of user (when they are disabled or
// change their password).
func (s *Service) endUserSessions(name string) {
	if _, err := s.store.DeleteUserSessions(name); err != nil {
		// Lookup refuses disabled users anyway; the rest expire.
		s.log.Error("could not end the user's web sessions", "user", name, "err", err)
	}
}

// ChangePassword sets a new password for name after checking the current
// one (which the throttle counts like any sign-in). With revokeTokens it
// also revokes all of the user's application tokens and returns how many.
// It ends all of the user's web sessions: the caller starts a new one for
// the browser that asked.
func (s *Service) ChangePassword(actor Actor, name, current, newPassword string, revokeTokens bool) (int, error) {
	if _, err := s.AuthenticatePassword(name, current, actor.IP); err != nil {
		if errors.Is(err, ErrAuthFailed) {
			// In the user's own history, not only the failure log: a
			// wrong current password in a signed-in session may be
			// someone else at an unlocked screen. The throttle bounds
			// how many there can be.
			s.audit(model.Activity{Action: "user.password.change.refused", Actor: actor.Name, Subject: name, ClientIP: actor.IP,
				Detail: "the current password was wrong"})
		}
		return 0, err
	}
	if subtle.ConstantTimeCompare([]byte(current), []byte(newPassword)) == 1 {
		return 0, &FieldError{"new_password", "must differ from the current password"}
	}
	// UpdateUser ends the user's web sessions with the new password.
	if _, err := s.UpdateUser(actor, name, UserChange{Password: &newPassword}); err != nil {
		return 0, err
	}
	if !revokeTokens {
		return 0, nil
	}
	return s.RevokeAllTokens(actor, name)
}
