package api

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/httperr"
	"github.com/portusproject/portus/shared/apitypes"
)

// The device authorization grant's endpoints (RFC 8628): a client asks
// for codes at apitypes.DeviceCodePath and polls apitypes.OAuthTokenPath;
// the user approves on the web page apitypes.DevicePagePath. Requests are
// form-encoded, as the RFC requires; answers are JSON with Cache-Control:
// no-store, errors {"error", "error_description"} with 400 (429 when an
// address asks for too many codes). An address that polls too often gets
// 400 slow_down with Retry-After as a hint: RFC 8628 section 3.5 answers a
// poll's errors with 400, and OAuth clients take a 429 there for a
// transport failure and give up.

// deviceCode answers POST /oauth/device/code.
func (h *Handler) deviceCode(c *gin.Context) {
	f, ok := oauthForm(c)
	if !ok {
		return
	}
	codes, err := h.Accounts.RequestDevice(account.DeviceRequest{
		ClientID: f.Get("client_id"), Scope: f.Get("scope"), Name: f.Get("name"),
	}, c.ClientIP())
	if err != nil {
		h.oauthFail(c, err, http.StatusTooManyRequests)
		return
	}
	page := h.PublicURL + apitypes.DevicePagePath
	c.JSON(http.StatusOK, apitypes.DeviceAuthorization{
		DeviceCode:              codes.DeviceCode,
		UserCode:                codes.UserCode,
		VerificationURI:         page,
		VerificationURIComplete: page + "?user_code=" + url.QueryEscape(codes.UserCode),
		ExpiresIn:               int(codes.ExpiresIn.Seconds()),
		Interval:                int(codes.Interval.Seconds()),
	})
}

// oauthToken answers POST /oauth/token. The device code is its only
// grant type: docker's password and refresh grants go to /v2/token.
func (h *Handler) oauthToken(c *gin.Context) {
	f, ok := oauthForm(c)
	if !ok {
		return
	}
	switch gt := f.Get("grant_type"); gt {
	case apitypes.DeviceGrantType:
	case "":
		oauthError(c, http.StatusBadRequest, apitypes.OAuthInvalidRequest, "grant_type is missing; send "+apitypes.DeviceGrantType)
		return
	default:
		oauthError(c, http.StatusBadRequest, apitypes.OAuthUnsupportedType, "only grant_type="+apitypes.DeviceGrantType+" is served here; docker's token requests go to /v2/token")
		return
	}
	tok, err := h.Accounts.PollDevice(f.Get("device_code"), f.Get("client_id"), c.ClientIP())
	if err != nil {
		h.oauthFail(c, err, http.StatusBadRequest)
		return
	}
	c.JSON(http.StatusOK, tok)
}

// oauthForm sets no-store and reads the form body; anything else than a
// form-encoded body is answered with invalid_request.
func oauthForm(c *gin.Context) (url.Values, bool) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != formType {
		oauthError(c, http.StatusBadRequest, apitypes.OAuthInvalidRequest, "send the parameters form-encoded, with Content-Type: "+formType+" (RFC 8628)")
		return nil, false
	}
	f, err := postForm(c.Request)
	if err != nil {
		oauthError(c, http.StatusBadRequest, apitypes.OAuthInvalidRequest, "malformed form body: "+err.Error())
		return nil, false
	}
	return f, true
}

// oauthFail answers err: a *account.DeviceError as itself (with status
// throttled and Retry-After when it says to wait), anything else (the
// store down) with the status httperr gives it, as an OAuth error.
func (h *Handler) oauthFail(c *gin.Context, err error, throttled int) {
	var de *account.DeviceError
	if errors.As(err, &de) {
		status := http.StatusBadRequest
		if de.RetryAfter > 0 {
			status = throttled
			c.Header("Retry-After", strconv.Itoa(de.RetrySeconds()))
		}
		oauthError(c, status, de.Code, de.Description)
		return
	}
	p := httperr.Explain(err)
	if p.Log != "" {
		h.Log.Error(p.Log, "method", c.Request.Method, "path", c.FullPath(), "err", err)
	}
	oauthError(c, p.Status, "server_error", p.API)
}

func oauthError(c *gin.Context, status int, code, description string) {
	c.AbortWithStatusJSON(status, apitypes.OAuthError{Error: code, Description: description})
}
