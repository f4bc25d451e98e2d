package apitypes

// RevokeLeakedPath is where anyone who finds a Portus token in public
// reports it, without signing in (SECURITY.md).
const RevokeLeakedPath = "/api/v1/tokens/revoke-leaked"

// RevokeLeakedRequest is the body of a leak report.
type RevokeLeakedRequest struct {
	// Tokens are the ptk_ strings found, at most 100.
	Tokens []string `json:"tokens"`
	// Source is the URL where they were found.
	Source string `json:"source"`
}

// RevokeLeakedResponse is the one answer to every well-formed report,
// whether or not any token matched.
type RevokeLeakedResponse struct {
	Message string `json:"message"`
}
