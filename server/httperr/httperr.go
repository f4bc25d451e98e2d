// Package httperr owns what an HTTP client is told about an error of
// package account or model: the status, and the message, worded once for
// the JSON API and once for the web pages. Packages api and web both ask
// Explain, so an error means the same status on either surface; neither
// imports the other.
package httperr

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
)

// Problem is what a client is told about an error.
type Problem struct {
	Status int
	// API is the JSON API's message; Page the sentence a web page shows.
	API, Page string
	// RetryAfter, when positive, is the Retry-After header in seconds.
	RetryAfter int
	// Log, when set, is the server log's message for the full error: the
	// client is told only vaguely, as detail could help an attacker or
	// leak a secret.
	Log string
}

// Explain says what a client is told about err. Anything unexpected is a
// 500 with Log set.
func Explain(err error) Problem {
	if p, ok := explainTokenLifecycle(err); ok {
		return p
	}
	var (
		field     *account.FieldError
		limit     *account.LimitError
		lifetime  *account.LifetimeError
		throttled *account.ThrottledError
		signups   *account.SignupThrottledError
		leaks     *account.LeakReportThrottledError
	)
	switch {
	case errors.As(err, &field):
		return Problem{Status: http.StatusBadRequest, API: field.Error(), Page: fieldSentence(field)}
	case errors.Is(err, account.ErrAuthFailed):
		return Problem{Status: http.StatusUnauthorized, API: account.ErrAuthFailed.Error(),
			Page: "Invalid username or password."}
	case errors.As(err, &throttled):
		n := throttled.RetrySeconds()
		return Problem{Status: http.StatusTooManyRequests, RetryAfter: n, API: throttled.Error(),
			Page: fmt.Sprintf("Too many failed sign-in attempts. Wait %s, then try again.", seconds(n))}
	case errors.As(err, &signups):
		n := signups.RetrySeconds()
		return Problem{Status: http.StatusTooManyRequests, RetryAfter: n, API: signups.Error(),
			Page: fmt.Sprintf("Too many sign-ups from your address. Wait %s, then try again.", minutes(n))}
	case errors.As(err, &leaks):
		n := leaks.RetrySeconds()
		return Problem{Status: http.StatusTooManyRequests, RetryAfter: n, API: leaks.Error(),
			Page: fmt.Sprintf("Too many leak reports from your address. Wait %s, then try again.", seconds(n))}
	case errors.Is(err, account.ErrNameUnavailable):
		return Problem{Status: http.StatusConflict, API: err.Error(),
			Page: "That name cannot be used. Choose another name."}
	case errors.Is(err, account.ErrNotFound):
		return Problem{Status: http.StatusNotFound,
			API:  "not found: no such user or token (GET /api/v1/tokens lists your tokens with their ids)",
			Page: "That was not found. It may have been removed meanwhile; go back and reload the page."}
	case errors.Is(err, account.ErrNameTaken):
		return Problem{Status: http.StatusConflict, API: err.Error(),
			Page: "You already have a token with this name. Choose another name, or remove that token first."}
	case errors.Is(err, account.ErrRotated):
		return Problem{Status: http.StatusConflict, API: err.Error(),
			Page: "This token was regenerated meanwhile, perhaps in another tab. Reload the page; its newest secret is the one that works."}
	case errors.Is(err, account.ErrRotateExpired):
		return Problem{Status: http.StatusUnprocessableEntity, API: err.Error(),
			Page: "This token has expired and cannot be regenerated. Create a new token instead."}
	case errors.Is(err, account.ErrUserExists):
		return Problem{Status: http.StatusConflict, API: err.Error(),
			Page: "A user with this name already exists. Choose another name."}
	case errors.Is(err, account.ErrDockerLoginLocked):
		return Problem{Status: http.StatusForbidden, API: err.Error(),
			Page: "An administrator decides whether your password works for docker login, so nothing was changed. Ask an administrator if it should change."}
	case errors.Is(err, account.ErrAlreadySSO):
		return Problem{Status: http.StatusConflict, API: err.Error(), Page: "This account was created by single sign-on; it needs no link."}
	case errors.Is(err, account.ErrLastAdmin):
		return Problem{Status: http.StatusConflict, API: err.Error(),
			Page: "This is the only active administrator. Make another user an administrator first."}
	case errors.As(err, &limit):
		return Problem{Status: http.StatusUnprocessableEntity,
			API:  limit.Error() + "; remove one on your profile page or with DELETE /api/v1/tokens/{id} first",
			Page: TokenLimitPage(limit.Limit)}
	case errors.As(err, &lifetime):
		return Problem{Status: http.StatusUnprocessableEntity, API: lifetime.Error(),
			Page: fmt.Sprintf("Tokens on this server last at most %s. Choose an expiry within that.", account.FormatLifetime(lifetime.Max))}
	case errors.Is(err, account.ErrBusyReading):
		return Problem{Status: http.StatusTooManyRequests, RetryAfter: 1, API: err.Error(),
			Page: "The activity log is busy with your other requests. Wait a moment, then reload the page."}
	case errors.Is(err, account.ErrDirectoryUnavailable):
		return Problem{Status: http.StatusServiceUnavailable, API: account.ErrDirectoryUnavailable.Error(),
			Page: "The directory server is not answering. Try again in a minute; docker logins with an application token keep working."}
	case errors.Is(err, model.ErrUnavailable):
		return Problem{Status: http.StatusServiceUnavailable, Log: "store unavailable",
			API:  "the server cannot use its database right now (disk full or read-only, or etcd unreachable); the change may not have been saved: check, then try again later",
			Page: "The server cannot use its database right now (is its disk full or read-only, or its etcd cluster unreachable?). Your change may not have been saved: reload the page to check, then try again later, or tell the administrator."}
	default:
		return Problem{Status: http.StatusInternalServerError, Log: "request failed",
			API:  "internal server error; the server log has the details",
			Page: "Something went wrong on the server. Try again; if it keeps happening, tell the administrator (the server log has the details)."}
	}
}

// TokenLimitPage is the web page's sentence for a user who holds limit
// tokens, the most allowed: how to free a slot.
func TokenLimitPage(limit int) string {
	return fmt.Sprintf("You have %d application tokens, the most allowed. Remove one to create another.", limit)
}

// fieldLabels name form fields as the pages do.
var fieldLabels = map[string]string{
	"name":         "Name",
	"password":     "Password",
	"new_password": "New password",
	"scope":        "Scope",
	"expires_at":   "Expiry",
}

// fieldSentence words a field error for a page: "Name must be …".
func fieldSentence(field *account.FieldError) string {
	label := fieldLabels[field.Field]
	if label == "" {
		label = field.Field
	}
	return label + " " + field.Message + "."
}

func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

// minutes words a wait of n seconds for a page, in whole minutes (rounded
// up) from one minute on.
func minutes(n int) string {
	if n < 60 {
		return seconds(n)
	}
	if m := (n + 59) / 60; m > 1 {
		return strconv.Itoa(m) + " minutes"
	}
	return "1 minute"
}

// explainTokenLifecycle is Explain for the refusals of the token
// lifecycle's background parts: replaced secrets and the leak worker.
func explainTokenLifecycle(err error) (Problem, bool) {
	switch {
	case errors.Is(err, account.ErrReplacedSecret):
		return Problem{Status: http.StatusConflict, API: err.Error(),
			Page: "This token's secret was replaced. Use its newest secret, or manage the token on your profile page."}, true
	case errors.Is(err, account.ErrLeakQueueFull):
		return Problem{Status: http.StatusServiceUnavailable, RetryAfter: 60, API: err.Error(),
			Page: "Too many leak reports are waiting. Send yours again in a minute."}, true
	case errors.Is(err, account.ErrLeakReportsStopped):
		return Problem{Status: http.StatusServiceUnavailable, RetryAfter: 60, API: err.Error(),
			Page: "The server is shutting down. Send your leak report again in a minute."}, true
	}
	return Problem{}, false
}
