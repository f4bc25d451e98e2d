// Package registryauth owns the domain logic of the Docker registry token
// endpoint (/v2/token): parsing the requested scopes, deciding what a subject
// may do, and issuing the signed JWT that the registry verifies. It knows no
// HTTP framework and no database; the handler authenticates the caller, then
// calls, in this order:
//
//	scopes, err := registryauth.ParseScopes(query["scope"]) // *ScopeError: answer 400
//	access := policy.Grant(registryauth.Subject{Name: user, Admin: admin, TokenScope: scope}, scopes)
//	token, err := issuer.Issue(user, service, access, time.Now())
//
// The four core types:
//
//   - Scope: one requested resource, "repository:alice/app:pull,push".
//   - Policy: who may do what; Grant intersects it with what was asked for
//     and with the application token's own scope.
//   - Signer: the signing key and its self-signed certificate, kept by the
//     store as shared secrets (LoadOrCreateSigner creates them on first use
//     through a SecretKeeper, which model.Store is).
//   - Issuer: turns granted access into a token for one registry (the
//     audience).
//
// Tokens follow distribution's token format as registry 2.8 and 3.x accept
// it: ES256 (default) or RS256, a header with "kid" set to the libtrust key
// ID and "x5c" holding the certificate (left out with HeaderKID, for
// registry 3 reading a jwks file), "aud" a single JSON string, and an
// "access" array that is never null.
//
// Caveats: the registry trusts the certificate, not just the key, because
// the token header carries it in "x5c", and it reads its rootcertbundle
// once, at start. A key therefore changes in published steps (rotate.go:
// rotate, activate, retire; a renewal 30 days before expiry is staged the
// same way), and a running server follows them through LiveSigner. Only a
// missing, damaged or expired certificate is replaced at once;
// Signer.CertificateWritten reports when that happened.
package registryauth
