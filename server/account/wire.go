package account

import (
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// The one mapping from stored values to what the JSON API and the admin
// CLI speak (shared/apitypes). Secrets never cross it: a stored token's
// hash and a user's password hash have no wire field.

// WireUser is u as the API shows it.
func WireUser(u model.User) apitypes.User {
	return apitypes.User{
		Name: u.Name, Admin: u.Admin, Disabled: u.Disabled, CreatedAt: u.CreatedAt,
		Source: u.Source, Email: u.Email, DisplayName: u.DisplayName, DockerLogin: u.DockerLogin,
		PendingRehash: IsLegacyHash(u.PasswordHash),
	}
}

// WireToken is t as the API lists it. Expired and ExpiresSoon are left
// for the caller, who knows the clock and the expiry rules
// (Service.Tokens).
func WireToken(t model.Token) apitypes.Token {
	kind := apitypes.KindApp
	if t.Login() {
		kind = apitypes.KindLogin
	}
	return apitypes.Token{
		ID: t.ID, Name: t.Name, Scope: t.Scope, CreatedAt: t.CreatedAt,
		ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, CreatedVia: t.CreatedVia, Kind: kind,
		LastUsedAddr: t.LastUsedAddr, LastUsedClient: t.LastUsedClient,
	}
}

// WireCreatedToken is a new token t with its plaintext: the only value
// that ever carries it.
func WireCreatedToken(t model.Token, plain string) apitypes.CreatedToken {
	return apitypes.CreatedToken{
		ID: t.ID, Name: t.Name, Scope: t.Scope, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Token: plain,
	}
}

// WireActivity is an audit entry as the API shows it (the same fields: an
// entry never holds a secret).
func WireActivity(a model.Activity) apitypes.Activity { return apitypes.Activity(a) }
