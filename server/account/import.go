package account

import (
	"errors"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// ImportUsers adopts the accounts of another registry's authentication
// (an htpasswd file, docker_auth's users:) with their bcrypt hashes kept
// as legacy hashes (legacy.go): each user signs in with the old password,
// which is then rehashed with argon2id. A user whose name exists is
// skipped, never changed; a bad name or a hash that is not bcrypt is
// refused with the reason. With dryRun nothing is written. A store
// failure stops the import and is returned with the results so far.
func (s *Service) ImportUsers(actor Actor, users []apitypes.ImportUser, dryRun bool) ([]apitypes.ImportResult, error) {
	out := make([]apitypes.ImportResult, 0, len(users))
	seen := map[string]bool{}
	for _, iu := range users {
		r := apitypes.ImportResult{Name: iu.Name}
		cost, herr := CheckLegacyHash(iu.PasswordHash)
		switch nerr := ValidateUsername(iu.Name); {
		case nerr != nil:
			r.Result, r.Reason = apitypes.ImportRefused, nerr.Error()
		case herr != nil:
			r.Result, r.Reason = apitypes.ImportRefused, "password hash: "+herr.Error()
		case seen[iu.Name]:
			r.Result, r.Reason = apitypes.ImportRefused, "the name comes twice; the first one counts"
		default:
			var err error
			if r, err = s.importUser(actor, iu, cost, dryRun); err != nil {
				return out, err
			}
		}
		seen[iu.Name] = true
		out = append(out, r)
	}
	return out, nil
}

// importUser creates (or with dryRun, looks up) one valid account.
func (s *Service) importUser(actor Actor, iu apitypes.ImportUser, cost int, dryRun bool) (apitypes.ImportResult, error) {
	r := apitypes.ImportResult{Name: iu.Name}
	exists := func() apitypes.ImportResult {
		r.Result, r.Reason = apitypes.ImportExists, "a user with this name exists; left as it is"
		return r
	}
	if dryRun {
		_, err := s.store.User(iu.Name)
		switch {
		case err == nil:
			return exists(), nil
		case !errors.Is(err, model.ErrNotFound):
			return r, err
		}
		r.Result = apitypes.ImportWouldCreate
		return r, nil
	}
	u, err := s.store.CreateUser(model.User{Name: iu.Name, PasswordHash: iu.PasswordHash, Admin: iu.Admin, CreatedAt: s.now().UTC()}, false)
	switch {
	case errors.Is(err, model.ErrUserExists):
		return exists(), nil
	case err != nil:
		return r, err
	}
	s.noteLegacyCost(cost)
	detail := "imported with a bcrypt password hash"
	if u.Admin {
		detail += "; administrator"
	}
	s.audit(model.Activity{Action: "user.create", Actor: actor.Name, Subject: u.Name, ClientIP: actor.IP, Detail: detail})
	r.Result = apitypes.ImportCreated
	return r, nil
}
