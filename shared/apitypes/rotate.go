package apitypes

// Rotation: a token's new secret, in the shape of CreatedToken (the
// only time the new secret is shown).
const (
	// CurrentTokenRotatePath rotates the token that authenticates the
	// request (Basic with the token as the password, or Bearer).
	CurrentTokenRotatePath = CurrentTokenPath + "/rotate"
	// TokenRotateSuffix follows TokensPath + "/{id}" to rotate a token by
	// id, with the password or a web session.
	TokenRotateSuffix = "/rotate"
)
