package account

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/portusproject/portus/server/model"
)

// Single sign-on: people whose company signs them in through an OpenID
// provider. The web layer verifies the provider's ID token (package
// oidcsignin); this file decides which account that person is.
//
//   - A name nobody has: the first sign-in creates the account (source
//     "oidc", no password at all, email and display name from the claims,
//     administrator if the admin group is configured and lists them) and
//     binds it to the provider's subject ("sub").
//   - An SSO account: signed in if the subject is the one bound to it;
//     email, display name and (with an admin group) the administrator flag
//     are refreshed at every sign-in.
//   - A local or LDAP account of the same name is never taken over
//     silently: SignInSSO refuses with an *SSORefusedError until an
//     administrator links it (LinkSSO, `portus user link-sso NAME`). The
//     next SSO sign-in of that name binds its subject; the account keeps
//     its own password and administrator flag.

// SSOIdentity is what the provider said about the person signing in,
// taken from a verified ID token.
type SSOIdentity struct {
	// Subject is the provider's stable id of the person ("sub").
	Subject  string
	Username string
	Email    string
	// DisplayName is the "name" claim.
	DisplayName string
	// AdminChecked is set when an admin group is configured; Admin then
	// says whether the groups claim lists it.
	AdminChecked bool
	Admin        bool
}

// SSORefusedError refuses an SSO sign-in that the provider allowed but
// Portus cannot map to an account. Its text is for the person signing in
// and names what to do; it holds no secret.
type SSORefusedError struct {
	Name   string
	Reason string
}

func (e *SSORefusedError) Error() string { return e.Reason }

// ErrAlreadySSO refuses to link an account that is already an SSO account.
var ErrAlreadySSO = errors.New("this account was created by single sign-on; it needs no link")

// SignInSSO returns the principal for a person the provider signed in,
// creating or refreshing the account as the rules above say.
func (s *Service) SignInSSO(id SSOIdentity, ip string) (Principal, error) {
	name := id.Username
	if id.Subject == "" {
		return Principal{}, &SSORefusedError{name, "The sign-in service sent no subject (sub) for you, so Portus cannot tell who you are. Ask your administrator to check the provider's configuration."}
	}
	if err := ValidateUsername(name); err != nil {
		return Principal{}, &SSORefusedError{name, fmt.Sprintf("The sign-in service names you %q, which is not a valid Portus username (%v). "+
			"Ask your administrator to set oidc.username_claim to a claim that holds a short username.", name, err)}
	}
	u, err := s.store.User(name)
	switch {
	case errors.Is(err, model.ErrNotFound):
		created, cerr := s.createSSOUser(id, ip)
		if !errors.Is(cerr, model.ErrUserExists) {
			return Principal{User: created}, cerr
		}
		// Created by a concurrent sign-in: go on as for an existing one.
		if u, err = s.store.User(name); err != nil {
			return Principal{}, err
		}
	case err != nil:
		return Principal{}, err
	}
	if err := ssoMayUse(u, id); err != nil {
		s.refuse(refusedUncounted, name, ip, "SSO sign-in refused: "+err.reason)
		return Principal{}, &SSORefusedError{name, err.text}
	}
	if u.Disabled {
		s.refuse(refusedUncounted, name, ip, "SSO sign-in of a disabled user")
		return Principal{}, &SSORefusedError{name, "Your Portus account " + name + " is disabled. Ask an administrator to enable it."}
	}
	u, err = s.refreshSSOUser(u, id, ip)
	if err != nil {
		return Principal{}, err
	}
	return Principal{User: u}, nil
}

// ssoRefusal is why an identity may not use an account: reason for the
// audit log, text for the person.
type ssoRefusal struct{ reason, text string }

// ssoMayUse checks that the person id may sign in to u.
func ssoMayUse(u model.User, id SSOIdentity) *ssoRefusal {
	if u.Source != model.SourceOIDC && u.OIDCLinkedBy == "" {
		return &ssoRefusal{"name taken by a " + sourceName(u.Source) + " account, not linked",
			"The username " + u.Name + " already belongs to a " + sourceName(u.Source) + " Portus account, so single sign-on did not take it over. " +
				"If that account is yours, ask an administrator to link it (portus user link-sso " + u.Name + "), then sign in again."}
	}
	if u.OIDCSubject != "" && u.OIDCSubject != id.Subject {
		return &ssoRefusal{"subject differs from the one bound to the account",
			"The Portus account " + u.Name + " belongs to another person at the sign-in service. " +
				"If it should be yours (for example after a change of identity provider), ask an administrator to link it again (portus user link-sso " + u.Name + ")."}
	}
	return nil
}

func sourceName(source string) string {
	if source == model.SourceLDAP {
		return "directory (LDAP)"
	}
	return "local"
}

// createSSOUser creates the account of a first SSO sign-in.
func (s *Service) createSSOUser(id SSOIdentity, ip string) (model.User, error) {
	nu := model.User{
		Name: id.Username, Source: model.SourceOIDC, OIDCSubject: id.Subject, Email: id.Email, DisplayName: id.DisplayName,
		Admin: id.AdminChecked && id.Admin, CreatedAt: s.now().UTC(),
	}
	created, err := s.store.CreateUser(nu, false)
	if err != nil {
		return created, err
	}
	detail := "first sign-in with single sign-on"
	if created.Admin {
		detail += "; administrator (admin group)"
	}
	s.audit(model.Activity{Action: "user.create", Actor: id.Username, Subject: id.Username, ClientIP: ip, Detail: detail})
	return created, nil
}

// refreshSSOUser binds the subject of a linked account at its first SSO
// sign-in and, for SSO accounts, takes email, name and the administrator
// flag from the provider.
func (s *Service) refreshSSOUser(u model.User, id SSOIdentity, ip string) (model.User, error) {
	own := u.Source == model.SourceOIDC
	admin := u.Admin
	if own && id.AdminChecked {
		admin = id.Admin
	}
	if u.OIDCSubject == id.Subject && (!own || (u.Email == id.Email && u.DisplayName == id.DisplayName && u.Admin == admin)) {
		return u, nil
	}
	var events []string
	u, err := s.store.UpdateUser(u.Name, func(u *model.User) error {
		events = events[:0]
		if u.OIDCSubject != id.Subject {
			if u.OIDCSubject != "" {
				return &SSORefusedError{u.Name, "The Portus account " + u.Name + " was just bound to another person; sign in again."}
			}
			u.OIDCSubject = id.Subject
			if u.Source != model.SourceOIDC {
				events = append(events, "user.sso.bind")
			}
		}
		if u.Source != model.SourceOIDC {
			return nil
		}
		if u.Admin != admin {
			u.Admin = admin
			events = append(events, map[bool]string{true: "user.admin.grant", false: "user.admin.revoke"}[admin])
		}
		u.Email, u.DisplayName = id.Email, id.DisplayName
		return nil
	})
	if err != nil {
		return model.User{}, err
	}
	for _, e := range events {
		detail := "admin group membership at single sign-on"
		if e == "user.sso.bind" {
			detail = "first single sign-on into the linked account"
		}
		s.audit(model.Activity{Action: e, Actor: u.Name, Subject: u.Name, ClientIP: ip, Detail: detail})
	}
	return u, nil
}

// LinkSSO lets an SSO sign-in with name use the existing local or LDAP
// account of that name (keeping its password and administrator flag).
// With subject, only the person the provider knows by that "sub" may:
// the safe choice where people can edit the claim that names them.
// Without, the next SSO sign-in with the name binds its subject. Linking
// again replaces the subject bound before, for a person whose identity at
// the provider changed.
func (s *Service) LinkSSO(actor Actor, name, subject string) (model.User, error) {
	if len(subject) > 255 || strings.ContainsFunc(subject, unicode.IsControl) {
		return model.User{}, &FieldError{"subject", "must be the provider's subject (sub) of the person: at most 255 characters, no control characters"}
	}
	u, err := s.store.UpdateUser(name, func(u *model.User) error {
		if u.Source == model.SourceOIDC {
			return ErrAlreadySSO
		}
		u.OIDCLinkedBy = actor.Name
		u.OIDCSubject = subject
		return nil
	})
	if errors.Is(err, model.ErrNotFound) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, err
	}
	detail := "the next single sign-on with this name may use the account"
	if subject != "" {
		detail = "single sign-on of the provider's subject " + subject + " may use the account"
	}
	s.audit(model.Activity{Action: "user.sso.link", Actor: actor.Name, Subject: name, ClientIP: actor.IP, Detail: detail})
	return u, nil
}

// errSSOPassword refuses a password for an SSO account: it signs in with
// the provider only.
var errSSOPassword = &FieldError{"new_password", "cannot be set: this account signs in with single sign-on and has no password; its owner creates application tokens on the profile page"}
