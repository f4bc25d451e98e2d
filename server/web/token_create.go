package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/shared/apitypes"
)

// tokenCreate mints an application token and redirects to the profile,
// which shows its value once (post-redirect-get): the value is held in
// this process for that one view (see justCreated), never in the URL or a
// cookie, and reloading the profile cannot re-post the form. The URL
// carries only the token's id, which is no secret.
func (h *Handler) tokenCreate(c *gin.Context) {
	p, _ := currentUser(c)
	form := tokenForm{
		Name:    strings.TrimSpace(c.PostForm("name")),
		Scope:   c.PostForm("scope"),
		Expires: strings.TrimSpace(c.PostForm("expires")),
	}
	again := func(status int, field, msg string) {
		h.showProfile(c, status, profileData{Form: form, TokenError: msg, TokenField: field})
	}
	expires, err := parseExpiry(form.Expires, time.Now())
	if err != nil {
		again(http.StatusBadRequest, "token-expires", err.Error())
		return
	}
	created, err := h.accounts.CreateToken(actor(c), p.Name(), account.NewToken{
		Name: form.Name, Scope: form.Scope, ExpiresAt: expires, Via: apitypes.ViaWeb,
	})
	if err != nil {
		status, msg := h.explain(c, err)
		field := "token-name"
		var (
			limit    *account.LimitError
			lifetime *account.LifetimeError
		)
		switch {
		case errors.As(err, &limit):
			field = ""
		case errors.As(err, &lifetime):
			field = "token-expires"
		}
		again(status, field, msg)
		return
	}
	h.showOnce(c, created, success(fmt.Sprintf("Token '%s' was created successfully.", created.Name)))
}

// showOnce shows a token's new secret — of a new token, or a regenerated
// one — in the one profile view after the redirect (see justCreated),
// with done as its message.
func (h *Handler) showOnce(c *gin.Context, created apitypes.CreatedToken, done flash) {
	sess, _ := currentSession(c)
	if !h.created.put(string(sess.ID), created) {
		// Too many values waiting for their view: show it in this answer.
		flashNow(c, done)
		h.showProfile(c, http.StatusOK, profileData{Created: &created})
		return
	}
	h.redirect(c, "/profile?created="+url.QueryEscape(created.ID)+"#created-token", done)
}

// maxExpiryDays bounds the expiry a form may ask for: the account rule's
// bound, checked here too so that the page can say it in days.
const maxExpiryDays = account.MaxTokenLifetimeDays

// parseExpiry reads the form's expiry: empty for none, a number of days
// or hours ("36h"), or a date (YYYY-MM-DD, the token expires at its start, UTC). Its errors
// are sentences for the page.
func parseExpiry(v string, now time.Time) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	if hours, ok := strings.CutSuffix(v, "h"); ok { // a default that is not whole days
		n, err := strconv.Atoi(hours)
		if err != nil || n < 1 || n > maxExpiryDays*24 {
			return nil, fmt.Errorf("Expiry must be between 1 and %d hours.", maxExpiryDays*24)
		}
		t := now.UTC().Add(time.Duration(n) * time.Hour).Truncate(time.Second)
		return &t, nil
	}
	if days, err := strconv.Atoi(v); err == nil {
		if days < 1 || days > maxExpiryDays {
			return nil, fmt.Errorf("Expiry must be between 1 and %d days.", maxExpiryDays)
		}
		t := now.UTC().Add(time.Duration(days) * 24 * time.Hour).Truncate(time.Second)
		return &t, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return nil, fmt.Errorf("Expiry must be a number of days or a date such as %s.", now.AddDate(0, 1, 0).Format("2006-01-02"))
	}
	if !t.After(now) {
		return nil, errors.New("Expiry must be a date in the future.")
	}
	if t.After(now.AddDate(0, 0, maxExpiryDays)) {
		return nil, fmt.Errorf("Expiry must be within %d days.", maxExpiryDays)
	}
	return &t, nil
}
