package account

import (
	"errors"

	"github.com/portusproject/portus/server/model"
)

// DockerLoginState is the docker_login policy in force for a user and
// where it comes from, as the profile page explains it.
type DockerLoginState struct {
	// Policy is DockerLoginTokensOnly or DockerLoginPasswordsAllowed.
	Policy string
	// Source is "user" (the user chose it), "admin" (an administrator
	// set it for this account) or "server" (the server's --docker-login).
	Source string
	// By is the administrator who set it, when Source is "admin" and the
	// name is known ("" for the admin CLI).
	By string
}

// Locked reports whether the user may not change the policy themselves:
// an administrator's choice, or the server's tokens_only, wins over the
// user's.
func (d DockerLoginState) Locked() bool {
	return d.Source == "admin" || (d.Source == "server" && d.Policy == DockerLoginTokensOnly)
}

// DockerLoginOf says which docker_login policy applies to u and who set it.
func (s *Service) DockerLoginOf(u model.User) DockerLoginState {
	switch {
	case u.DockerLogin != "" && u.DockerLoginBy == u.Name:
		return DockerLoginState{Policy: u.DockerLogin, Source: "user"}
	case u.DockerLogin != "":
		return DockerLoginState{Policy: u.DockerLogin, Source: "admin", By: u.DockerLoginBy}
	case s.passwords.DockerLogin != "":
		return DockerLoginState{Policy: s.passwords.DockerLogin, Source: "server"}
	}
	return DockerLoginState{Policy: DockerLoginPasswordsAllowed, Source: "server"}
}

// ErrDockerLoginLocked refuses a user's own docker_login change when an
// administrator's setting or the server's tokens_only decides it.
var ErrDockerLoginLocked = errors.New("an administrator decides whether your password works for docker login; ask an administrator to change it")

// SetOwnDockerLogin is the user's own "accept only application tokens for
// docker login" switch: on sets tokens_only for them, off goes back to the
// server's policy. It is refused with ErrDockerLoginLocked when an
// administrator has set the user's policy, or when turning it off under a
// server-wide tokens_only.
func (s *Service) SetOwnDockerLogin(actor Actor, name string, tokensOnly bool) (DockerLoginState, error) {
	changed := false
	u, err := s.store.UpdateUser(name, func(u *model.User) error {
		changed = false
		st := s.DockerLoginOf(*u)
		if st.Source == "admin" || (!tokensOnly && st.Locked()) {
			return ErrDockerLoginLocked
		}
		want, by := "", ""
		if tokensOnly {
			want, by = DockerLoginTokensOnly, u.Name
		}
		if st.Source == "server" && st.Policy == want {
			return nil // the server's policy already says so
		}
		changed = u.DockerLogin != want
		u.DockerLogin, u.DockerLoginBy = want, by
		return nil
	})
	if errors.Is(err, model.ErrNotFound) {
		return DockerLoginState{}, ErrNotFound
	}
	if err != nil {
		return DockerLoginState{}, err
	}
	if changed {
		action := "user.docker_login.default"
		if tokensOnly {
			action = "user.docker_login." + DockerLoginTokensOnly
		}
		s.audit(model.Activity{Action: action, Actor: actor.Name, Subject: name, ClientIP: actor.IP})
	}
	return s.DockerLoginOf(u), nil
}
