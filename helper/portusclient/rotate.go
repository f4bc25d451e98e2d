package portusclient

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/go-resty/resty/v2"

	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// RotateCurrent gives token a new secret, authenticating with it: POST
// /api/v1/tokens/current/rotate with HTTP Basic username:token. The
// answer is the token with its new secret (same id and name), checked to
// be well formed. The old secret keeps working for the server's
// rotation_grace.
//
// Errors are *Error: ErrWrongPassword (401: the token is revoked, expired
// or already replaced), ErrRejected (other 4xx, 409 when another process
// rotated it first), ErrServer (5xx), ErrUnreachable, ErrTLS or
// ErrProtocol.
func (c *Client) RotateCurrent(ctx context.Context, username, token string) (*apitypes.CreatedToken, error) {
	return c.rotateCurrent(c.http.R().SetContext(ctx).SetBasicAuth(username, token), username, token)
}

// RotateBearer is RotateCurrent for a token whose owner the caller does
// not know, such as an identity token from docker login: it authenticates
// with "Authorization: Bearer TOKEN".
func (c *Client) RotateBearer(ctx context.Context, token string) (*apitypes.CreatedToken, error) {
	return c.rotateCurrent(c.http.R().SetContext(ctx).SetAuthToken(token), "", token)
}

func (c *Client) rotateCurrent(req *resty.Request, username, token string) (*apitypes.CreatedToken, error) {
	resp, err := req.Post(c.base + apitypes.CurrentTokenRotatePath)
	if err != nil {
		return nil, transportError(peerPortus, c.base, err, c.timeout, c.configFile)
	}
	if resp.StatusCode() != http.StatusCreated && resp.StatusCode() != http.StatusOK {
		e := statusError(peerPortus, c.base, username, resp.StatusCode(), resp.Header(), resp.Body(), token)
		e.ConfigFile = c.configFile
		return nil, e
	}
	var rotated apitypes.CreatedToken
	if err := json.Unmarshal(resp.Body(), &rotated); err != nil || !apptoken.Valid(rotated.Token) || rotated.Token == token {
		return nil, &Error{Kind: ErrProtocol, Peer: peerPortus, URL: c.base, Status: resp.StatusCode(), ConfigFile: c.configFile,
			Message: "the answer to " + apitypes.CurrentTokenRotatePath + " holds no new well-formed application token"}
	}
	c.log.Debug("token rotated", "name", rotated.Name, "id", rotated.ID, "token", apptoken.Redact(rotated.Token))
	return &rotated, nil
}
