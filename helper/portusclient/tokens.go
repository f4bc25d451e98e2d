package portusclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-resty/resty/v2"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

const peerPortus = "Portus"

// CreateToken exchanges username and password for a new application token:
// POST /api/v1/tokens with HTTP Basic authentication. The answer's Token is
// the plaintext, checked to be a well-formed token.
//
// Errors are *Error: ErrWrongPassword (401), ErrLimitReached (422),
// ErrThrottled (429, with RetryAfter), ErrRejected (other 4xx), ErrServer
// (5xx), ErrUnreachable, ErrTLS or ErrProtocol.
func (c *Client) CreateToken(ctx context.Context, username, password string, req apitypes.CreateTokenRequest) (*apitypes.CreatedToken, error) {
	resp, err := c.http.R().
		SetContext(ctx).
		SetBasicAuth(username, password).
		SetHeader("Content-Type", "application/json").
		SetBody(req).
		Post(c.base + apitypes.TokensPath)
	if err != nil {
		return nil, transportError(peerPortus, c.base, err, c.timeout, c.configFile)
	}
	if resp.StatusCode() != http.StatusCreated && resp.StatusCode() != http.StatusOK {
		// A server may echo what it was sent: never show the password.
		e := statusError(peerPortus, c.base, username, resp.StatusCode(), resp.Header(), resp.Body(), password)
		e.ConfigFile = c.configFile
		return nil, e
	}
	var created apitypes.CreatedToken
	if err := json.Unmarshal(resp.Body(), &created); err != nil {
		return nil, &Error{Kind: ErrProtocol, Peer: peerPortus, URL: c.base, Status: resp.StatusCode(), ConfigFile: c.configFile,
			Message: "the answer to " + apitypes.TokensPath + " is not a token: " + clean(err.Error())}
	}
	if !apptoken.Valid(created.Token) {
		return nil, &Error{Kind: ErrProtocol, Peer: peerPortus, URL: c.base, Status: resp.StatusCode(), ConfigFile: c.configFile,
			Message: "the answer to " + apitypes.TokensPath + " holds no well-formed application token"}
	}
	c.log.Debug("token created", "name", created.Name, "id", created.ID, "token", apptoken.Redact(created.Token))
	return &created, nil
}

// RevokeCurrent revokes token, authenticating with it: DELETE
// /api/v1/tokens/current with HTTP Basic username:token. A 401 means the
// token is already revoked or unknown: that is success too, reported by
// alreadyGone. Other failures are *Error as for CreateToken.
func (c *Client) RevokeCurrent(ctx context.Context, username, token string) (alreadyGone bool, err error) {
	return c.revokeCurrent(ctx, c.http.R().SetBasicAuth(username, token), username, token)
}

// RevokeBearer is RevokeCurrent for a token whose owner the caller does not
// know, such as an identity token from docker login: it authenticates
// with "Authorization: Bearer TOKEN" instead of a username.
func (c *Client) RevokeBearer(ctx context.Context, token string) (alreadyGone bool, err error) {
	return c.revokeCurrent(ctx, c.http.R().SetAuthToken(token), "", token)
}

func (c *Client) revokeCurrent(ctx context.Context, req *resty.Request, username, token string) (bool, error) {
	resp, err := req.SetContext(ctx).Delete(c.base + apitypes.CurrentTokenPath)
	if err != nil {
		return false, transportError(peerPortus, c.base, err, c.timeout, c.configFile)
	}
	switch s := resp.StatusCode(); {
	case s == http.StatusNoContent || s == http.StatusOK:
		c.log.Debug("token revoked", "token", apptoken.Redact(token))
		return false, nil
	case s == http.StatusUnauthorized:
		c.log.Debug("token already revoked or unknown", "token", apptoken.Redact(token))
		return true, nil
	default:
		e := statusError(peerPortus, c.base, username, s, resp.Header(), resp.Body(), token)
		e.ConfigFile = c.configFile
		return false, e
	}
}

// serverMessage extracts the "message" of an apitypes.Error body, or a
// short, cleaned excerpt of any other body, with secret (the password or
// token the request carried, when not "") replaced: a server may echo it.
func serverMessage(body []byte, secret string) string {
	hide := func(s string) string {
		if secret == "" {
			return s
		}
		return strings.ReplaceAll(s, secret, "[secret]")
	}
	var e apitypes.Error
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return clean(hide(e.Message))
	}
	s := strings.TrimSpace(hide(string(body)))
	if s == "" || strings.HasPrefix(s, "<") { // empty, or an HTML error page
		return ""
	}
	return clean(hide(fmt.Sprintf("%.200s", s)))
}

// Owner returns the name of the user who owns token, asked with
// "Authorization: Bearer TOKEN" (GET /api/v1/user): an identity token
// comes from docker login without its owner's name.
func (c *Client) Owner(ctx context.Context, token string) (string, error) {
	var me apitypes.User
	resp, err := c.http.R().SetContext(ctx).SetAuthToken(token).SetResult(&me).Get(c.base + apitypes.CallerPath)
	if err != nil {
		return "", transportError(peerPortus, c.base, err, c.timeout, c.configFile)
	}
	if resp.StatusCode() != http.StatusOK || me.Name == "" {
		e := statusError(peerPortus, c.base, "", resp.StatusCode(), resp.Header(), resp.Body(), token)
		e.ConfigFile = c.configFile
		return "", e
	}
	return me.Name, nil
}
