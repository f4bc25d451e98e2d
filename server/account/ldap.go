package account

import (
	"errors"
	"fmt"

	"github.com/portusproject/portus/server/ldapauth"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apptoken"
)

// Passwords may live in two places: the account's own hash (local
// accounts) and an LDAP directory. AuthenticatePassword asks them in the
// configured order, and the first one that knows the name decides:
//
//   - local first (the default): an account with a local password is
//     checked against it and the directory is never asked; a name without
//     a local password (an LDAP account, or a name the server has not seen)
//     goes to the directory.
//   - directory first: the directory is asked; if it has the name, its
//     answer decides and a local password of the same name is not tried;
//     if it does not, the local password is checked. While the directory is
//     not answering, accounts with a local password sign in with it.
//
// A string in the application-token format is never sent to the directory
// (it is a mistyped token, not a password), nor is an empty password or a
// name that is not a valid username. Each attempt is at most one bind as
// the user and counts once in the throttle, whichever backend decided.
//
// The first successful directory sign-in creates the account (source
// "ldap", no local password, email and display name from the directory);
// every later one refreshes those and, when an admin group is configured,
// the administrator flag. Local accounts signed in by the directory (only
// possible with directory first) keep their own administrator flag.

// Directory checks passwords in an external directory; *ldapauth.Client
// is one. Errors are those of ldapauth (test with errors.Is).
type Directory interface {
	Authenticate(name, password string) (ldapauth.Entry, error)
}

// PasswordOptions say where passwords are checked and where they are
// accepted. The zero value checks local passwords only and accepts them
// everywhere.
type PasswordOptions struct {
	// Directory, when not nil, checks the passwords of LDAP accounts.
	Directory Directory
	// DirectoryFirst asks the directory before the local password.
	DirectoryFirst bool
	// DockerLogin is the server's policy for /v2/token (empty means
	// DockerLoginPasswordsAllowed); a user's DockerLogin overrides it.
	DockerLogin string
	// ProfileURL is where users create application tokens, named in the
	// message that refuses a password under tokens_only.
	ProfileURL string
}

// ErrDirectoryUnavailable is returned for a password that only the
// directory could check while it is not answering. Application tokens
// keep working.
var ErrDirectoryUnavailable = errors.New("the directory server is not answering; try again later or use an application token")

// name is unknown).
func (s *Service) askDirectory(u model.User, password string) bool {
	// An SSO account has no password anywhere: the directory is not asked
	// for it, or a directory entry of the same name would sign it in.
	if s.passwords.Directory == nil || apptoken.LooksLike(password) || u.Source == model.SourceOIDC {
		return false
	}
	return s.passwords.DirectoryFirst || u.PasswordHash == ""
}

// authenticateDirectory checks a password with the directory. decided is
// false when the local password should be checked instead: the directory
// does not know the name, or is not answering, and the account has a
// local password.
func (s *Service) authenticateDirectory(name, password, ip string, u model.User, found bool) (p Principal, err error, decided bool) {
	local := u.PasswordHash != ""
	if password == "" {
		return Principal{}, s.failed(name, ip, "empty password"), true
	}
	if ValidateUsername(name) != nil {
		if local {
			return Principal{}, nil, false
		}
		return Principal{}, s.failed(name, ip, "unknown user"), true
	}
	e, err := s.passwords.Directory.Authenticate(name, password)
	switch {
	case err == nil:
	case errors.Is(err, ldapauth.ErrNoSuchUser):
		if local {
			return Principal{}, nil, false
		}
		return Principal{}, s.failed(name, ip, "unknown user (not in the directory)"), true
	case errors.Is(err, ldapauth.ErrInvalidCredentials):
		return Principal{}, s.failed(name, ip, "wrong directory password"), true
	case errors.Is(err, ldapauth.ErrRefused):
		s.log.Info("the directory refused a sign-in", "user", name, "err", err)
		return Principal{}, s.failed(name, ip, "directory refused the bind"), true
	case errors.Is(err, ldapauth.ErrAmbiguous):
		s.log.Warn("the LDAP filter does not identify one entry with this username; check ldap.filter and ldap.uid_attribute", "user", name)
		return Principal{}, s.failed(name, ip, "ambiguous directory entry"), true
	default:
		s.log.Warn("the directory server is not answering", "user", name, "err", err)
		if local {
			return Principal{}, nil, false
		}
		// Not the user's fault: recorded, not counted by the throttle.
		s.refuse(refusedUncounted, name, ip, "directory not answering")
		return Principal{}, fmt.Errorf("%w: %w", ErrDirectoryUnavailable, err), true
	}
	u, err = s.directorySignedIn(name, e, u, found, ip)
	if err != nil {
		return Principal{}, err, true
	}
	if u.Disabled {
		return Principal{}, s.failed(name, ip, "disabled user"), true
	}
	s.throttle.Succeed(name, ip)
	return Principal{User: u}, nil, true
}

// directorySignedIn creates or refreshes the account of a user whose
// password the directory accepted, and returns it.
func (s *Service) directorySignedIn(name string, e ldapauth.Entry, u model.User, found bool, ip string) (model.User, error) {
	actor := Actor{Name: name, IP: ip}
	if !found {
		nu := model.User{
			Name: name, Source: model.SourceLDAP, Email: e.Email, DisplayName: e.DisplayName,
			Admin: e.AdminGroupChecked && e.Admin, CreatedAt: s.now().UTC(),
		}
		created, err := s.store.CreateUser(nu, false)
		if err == nil {
			detail := "first sign-in with the LDAP directory"
			if created.Admin {
				detail += "; administrator (admin group)"
			}
			s.audit(model.Activity{Action: "user.create", Actor: actor.Name, Subject: name, ClientIP: ip, Detail: detail})
			return created, nil
		}
		if !errors.Is(err, model.ErrUserExists) {
			return model.User{}, err
		}
		// Created by a concurrent sign-in: refresh it as below.
		if u, err = s.store.User(name); err != nil {
			return model.User{}, err
		}
	}
	if u.Source != model.SourceLDAP {
		// A local account whose name the directory also has (directory
		// first): signed in, but its own settings stay as they are.
		s.log.Info("a local account signed in with its directory password", "user", name)
		return u, nil
	}
	admin := u.Admin
	if e.AdminGroupChecked {
		admin = e.Admin
	}
	if u.Email == e.Email && u.DisplayName == e.DisplayName && u.Admin == admin {
		return u, nil
	}
	var event string
	u, err := s.store.UpdateUser(name, func(u *model.User) error {
		event = ""
		if u.Admin != admin {
			u.Admin = admin
			event = map[bool]string{true: "user.admin.grant", false: "user.admin.revoke"}[admin]
		}
		u.Email, u.DisplayName = e.Email, e.DisplayName
		return nil
	})
	if err != nil {
		return model.User{}, err
	}
	if event != "" {
		s.audit(model.Activity{Action: event, Actor: name, Subject: name, ClientIP: ip, Detail: "LDAP admin group membership at sign-in"})
	}
	return u, nil
}

// errDirectoryPassword refuses to set a local password on an LDAP account:
// its password is the directory's.
var errDirectoryPassword = &FieldError{"new_password", "cannot be set here: this account's password is the one in the LDAP directory; change it there"}
