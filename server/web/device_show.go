package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
)

// The device approval page, /device: where `docker-credential-portus
// login` (or any RFC 8628 client) sends its user. Someone not signed in is
// sent to sign in and back here, code and all (the route's access level).
// Opening the page changes nothing, not even with ?user_code=: the code
// is only looked up, and counted when wrong, after the user submits it
// with the session's CSRF token, so another site cannot spend a user's
// attempts. Then the page shows what asks, and Approve or Deny decides.

// deviceData is what templates/device.html shows: the code form (Grant
// nil, Outcome ""), the confirmation (Grant set) or the outcome.
type deviceData struct {
	UserCode string
	Error    string
	Grant    *deviceGrantView
	// Outcome is "approved" or "denied" once decided.
	Outcome  string
	Client   string
	Username string
}

// deviceGrantView is a waiting request as the confirmation shows it.
type deviceGrantView struct {
	UserCode, ClientID, TokenName, Scope, ClientIP string
	CreatedAt, ExpiresAt                           time.Time
}

func viewOfGrant(code string, g model.DeviceGrant) *deviceGrantView {
	if norm, ok := account.NormalizeUserCode(code); ok {
		code = account.FormatUserCode(norm)
	}
	return &deviceGrantView{UserCode: code, ClientID: g.ClientID, TokenName: g.TokenName, Scope: g.Scope,
		ClientIP: g.ClientIP, CreatedAt: g.CreatedAt, ExpiresAt: g.ExpiresAt}
}

// deviceShow shows the code form, prefilled from ?user_code=.
func (h *Handler) deviceShow(c *gin.Context) {
	code := c.Query("user_code")
	if len(code) > 32 {
		code = ""
	}
	h.renderDevice(c, http.StatusOK, deviceData{UserCode: strings.TrimSpace(code)})
}

// deviceCheck looks the submitted code up and shows what asks.
func (h *Handler) deviceCheck(c *gin.Context) {
	code := c.PostForm("user_code")
	g, err := h.accounts.DeviceByUserCode(actor(c), code)
	if err != nil {
		h.deviceError(c, code, err)
		return
	}
	h.renderDevice(c, http.StatusOK, deviceData{UserCode: code, Grant: viewOfGrant(code, g)})
}

// deviceApprove and deviceDeny decide the submitted code's request.
func (h *Handler) deviceApprove(c *gin.Context) { h.deviceDecide(c, true) }
func (h *Handler) deviceDeny(c *gin.Context)    { h.deviceDecide(c, false) }

func (h *Handler) deviceDecide(c *gin.Context, approve bool) {
	code := c.PostForm("user_code")
	g, err := h.accounts.DecideDevice(actor(c), code, approve)
	if err != nil {
		h.deviceError(c, code, err)
		return
	}
	outcome := "denied"
	if approve {
		outcome = "approved"
	}
	p, _ := currentUser(c)
	h.renderDevice(c, http.StatusOK, deviceData{Outcome: outcome, Client: g.ClientID, Username: p.Name(), Grant: viewOfGrant(code, g)})
}

// deviceError shows the code form again with what went wrong.
func (h *Handler) deviceError(c *gin.Context, code string, err error) {
	var (
		throttled *account.ThrottledError
		limit     *account.LimitError
	)
	msg, status := "", http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, account.ErrUserCodeUnknown), errors.Is(err, account.ErrDeviceDecided):
		msg = err.Error()
		if errors.Is(err, account.ErrUserCodeUnknown) {
			msg = fmt.Sprintf("%s after %d minutes).", strings.TrimSuffix(msg, ")"), int(h.accounts.DeviceExpiry().Minutes()))
		}
	case errors.As(err, &throttled):
		c.Header("Retry-After", fmt.Sprint(throttled.RetrySeconds()))
		msg, status = fmt.Sprintf("Too many wrong codes. Wait %d seconds, then enter the code again.", throttled.RetrySeconds()), http.StatusTooManyRequests
	case errors.As(err, &limit):
		msg = limit.Error() + ": remove one on your profile page, then approve again (the terminal keeps waiting until the code expires)."
	default:
		h.fail(c, err)
		return
	}
	h.renderDevice(c, status, deviceData{UserCode: code, Error: msg})
}

func (h *Handler) renderDevice(c *gin.Context, status int, d deviceData) {
	h.render(c, status, "device", "Connect a device", "", d)
}
