package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/shared/apitypes"
)

// tokenTable is what the "token-table" template (templates/partials)
// shows: a user's tokens, each row linking to the page that confirms its
// removal. The profile and the admin user page differ only in that link.
type tokenTable struct {
	Tokens []apitypes.Token
	Max    int
	// Base is the URL of the tokens: a row links to Base/{id}/{Action}.
	Base string
	// Action is the last segment of a row's link; Label its text.
	Action, Label string
	// Regenerate adds a link to Base/{id}/regenerate (a new secret for
	// the token: token_regenerate.go) to each row.
	Regenerate bool
}

// AppTokens counts the working application tokens: the ones the limit
// is about. Login tokens (left by docker login with a password) have a
// cap of their own and never take these slots, nor do expired tokens.
func (t tokenTable) AppTokens() int { return appTokens(t.Tokens) }

// LoginTokens counts the login tokens.
func (t tokenTable) LoginTokens() int {
	n := 0
	for _, tok := range t.Tokens {
		if tok.Kind == apitypes.KindLogin {
			n++
		}
	}
	return n
}

// Expired counts the expired tokens, listed last.
func (t tokenTable) Expired() int {
	n := 0
	for _, tok := range t.Tokens {
		if tok.Expired {
			n++
		}
	}
	return n
}

func appTokens(list []apitypes.Token) int {
	n := 0
	for _, tok := range list {
		if tok.Kind != apitypes.KindLogin && !tok.Expired {
			n++
		}
	}
	return n
}

// ownTokenTable is the signed-in user's own list on the profile page.
func ownTokenTable(tokens []apitypes.Token, limit int) tokenTable {
	return tokenTable{Tokens: sortExpiredLast(tokens), Max: limit, Base: "/profile/tokens", Action: "remove", Label: "Remove", Regenerate: true}
}

// userTokenTable is an administrator's view of user name's tokens.
func userTokenTable(name string, tokens []apitypes.Token, limit int) tokenTable {
	return tokenTable{Tokens: sortExpiredLast(tokens), Max: limit, Base: userPath(name) + "/tokens", Action: "revoke", Label: "Revoke"}
}

// tokensShow answers GET /profile/tokens, a URL people are left at or
// bookmark: the tokens are on the profile.
func (h *Handler) tokensShow(c *gin.Context) {
	c.Redirect(http.StatusSeeOther, "/profile#tokens")
}
