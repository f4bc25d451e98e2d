package portusclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// The device authorization grant (RFC 8628), by which `login` obtains a
// token that the user approves in the browser: no password goes through
// the helper at all.

// OAuthError is an OAuth error answer of the device grant: Code is one of
// the apitypes.OAuth* codes (authorization_pending, slow_down …),
// Description the server's explanation.
type OAuthError struct {
	URL         string
	Status      int
	Code        string
	Description string
}

func (e *OAuthError) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("Portus at %s answered %s", e.URL, e.Code)
	}
	return fmt.Sprintf("Portus at %s answered %s: %s", e.URL, e.Code, clean(e.Description))
}

// RequestDeviceCode asks for a device code: POST apitypes.DeviceCodePath,
// form-encoded. Errors are *OAuthError when the server answered one,
// *Error otherwise.
func (c *Client) RequestDeviceCode(ctx context.Context, clientID, scope, name string) (*apitypes.DeviceAuthorization, error) {
	form := map[string]string{"client_id": clientID, "name": name}
	if scope != "" {
		form["scope"] = scope
	}
	var a apitypes.DeviceAuthorization
	if err := c.oauthPost(ctx, apitypes.DeviceCodePath, form, "", &a); err != nil {
		return nil, err
	}
	if a.DeviceCode == "" || a.UserCode == "" || a.VerificationURI == "" || a.ExpiresIn <= 0 {
		return nil, &Error{Kind: ErrProtocol, Peer: peerPortus, URL: c.base, Status: http.StatusOK, ConfigFile: c.configFile,
			Message: "the answer to " + apitypes.DeviceCodePath + " lacks a device code, user code, verification_uri or expires_in"}
	}
	return &a, nil
}

// PollDevice polls once with deviceCode: POST apitypes.OAuthTokenPath.
// While the user has not decided, the error is an *OAuthError with Code
// authorization_pending or slow_down; access_denied, expired_token and
// invalid_grant end the grant. The answer's AccessToken is checked to be
// a well-formed application token.
func (c *Client) PollDevice(ctx context.Context, clientID, deviceCode string) (*apitypes.DeviceToken, error) {
	var tok apitypes.DeviceToken
	err := c.oauthPost(ctx, apitypes.OAuthTokenPath, map[string]string{
		"grant_type": apitypes.DeviceGrantType, "device_code": deviceCode, "client_id": clientID,
	}, deviceCode, &tok)
	if err != nil {
		return nil, err
	}
	if !apptoken.Valid(tok.AccessToken) || tok.Username == "" {
		return nil, &Error{Kind: ErrProtocol, Peer: peerPortus, URL: c.base, Status: http.StatusOK, ConfigFile: c.configFile,
			Message: "the answer to " + apitypes.OAuthTokenPath + " holds no well-formed application token with its owner"}
	}
	c.log.Debug("device token received", "name", tok.TokenName, "id", tok.TokenID, "token", apptoken.Redact(tok.AccessToken))
	return &tok, nil
}

// oauthPost posts form to path and decodes a 200 answer into out; secret
// (when not "") is kept out of error messages.
func (c *Client) oauthPost(ctx context.Context, path string, form map[string]string, secret string, out any) error {
	resp, err := c.http.R().SetContext(ctx).SetFormData(form).Post(c.base + path)
	if err != nil {
		return transportError(peerPortus, c.base, err, c.timeout, c.configFile)
	}
	if resp.StatusCode() == http.StatusOK {
		if err := json.Unmarshal(resp.Body(), out); err != nil {
			return &Error{Kind: ErrProtocol, Peer: peerPortus, URL: c.base, Status: http.StatusOK, ConfigFile: c.configFile,
				Message: "the answer to " + path + " is not JSON: " + clean(err.Error())}
		}
		return nil
	}
	var oe apitypes.OAuthError
	if json.Unmarshal(resp.Body(), &oe) == nil && oe.Error != "" {
		return &OAuthError{URL: c.base, Status: resp.StatusCode(), Code: oe.Error, Description: oe.Description}
	}
	e := statusError(peerPortus, c.base, "", resp.StatusCode(), resp.Header(), resp.Body(), secret)
	e.ConfigFile = c.configFile
	if resp.StatusCode() == http.StatusNotFound {
		e.Message = path + " not found: this Portus server is too old for `docker-credential-portus login`; use `docker login` instead"
	}
	return e
}
