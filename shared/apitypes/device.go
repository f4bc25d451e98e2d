package apitypes

// The device authorization grant (RFC 8628), by which
// `docker-credential-portus login` obtains an application token that a
// signed-in user approves in the browser: no password in a terminal.
// Requests are form-encoded (application/x-www-form-urlencoded), answers
// JSON, errors in OAuth's {"error", "error_description"} shape.
const (
	// DeviceCodePath is where a client asks for a device code: POST with
	// client_id, and optionally scope (pull, push or delete) and name (the
	// token's name).
	DeviceCodePath = "/oauth/device/code"
	// OAuthTokenPath is where it polls: POST with grant_type
	// DeviceGrantType, device_code and client_id.
	OAuthTokenPath = "/oauth/token"
	// DeviceGrantType is the grant_type of a poll.
	DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"
	// DevicePagePath is the approval page (the verification_uri's path).
	DevicePagePath = "/device"
	// ViaDevice is the CreatedVia of a token made by the device grant.
	ViaDevice = "device"
)

// DeviceAuthorization is the answer to DeviceCodePath.
type DeviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	// ExpiresIn and Interval are in seconds.
	ExpiresIn int `json:"expires_in"`
	Interval  int `json:"interval"`
}

// DeviceToken is the answer to a poll once the user has approved: an
// application token (access_token) with its owner, id, name and scope,
// which clients need to use it as docker's password and to revoke it.
type DeviceToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	Username    string `json:"username"`
	TokenID     string `json:"token_id"`
	TokenName   string `json:"token_name"`
}

// OAuthError is the body of an OAuth error answer (RFC 6749 section 5.2,
// RFC 8628 section 3.5).
type OAuthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// The error codes of a poll (RFC 8628 section 3.5) and of the requests.
const (
	OAuthPending         = "authorization_pending"
	OAuthSlowDown        = "slow_down"
	OAuthAccessDenied    = "access_denied"
	OAuthExpiredToken    = "expired_token"
	OAuthInvalidGrant    = "invalid_grant"
	OAuthInvalidRequest  = "invalid_request"
	OAuthInvalidScope    = "invalid_scope"
	OAuthUnsupportedType = "unsupported_grant_type"
)
