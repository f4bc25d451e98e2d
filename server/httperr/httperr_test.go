package httperr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
)

// TestExplain: each error of account and model gets its status on both
// surfaces, wrapped errors included, and an unexpected error tells the
// client nothing of itself.
func TestExplain(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
	}{
		{&account.FieldError{Field: "name", Message: "must not be empty"}, http.StatusBadRequest},
		{account.ErrAuthFailed, http.StatusUnauthorized},
		{&account.ThrottledError{RetryAfter: 1500 * time.Millisecond}, http.StatusTooManyRequests},
		{account.ErrNotFound, http.StatusNotFound},
		{account.ErrNameTaken, http.StatusConflict},
		{account.ErrUserExists, http.StatusConflict},
		{account.ErrNameUnavailable, http.StatusConflict},
		{&account.SignupThrottledError{RetryAfter: 11*time.Minute + 30*time.Second}, http.StatusTooManyRequests},
		{account.ErrLastAdmin, http.StatusConflict},
		{&account.LimitError{Limit: 5}, http.StatusUnprocessableEntity},
		{account.ErrDirectoryUnavailable, http.StatusServiceUnavailable},
		{account.ErrBusyReading, http.StatusTooManyRequests},
		{account.ErrReplacedSecret, http.StatusConflict},
		{account.ErrLeakQueueFull, http.StatusServiceUnavailable},
		{model.Unavailable("writing", errors.New("no space left on device")), http.StatusServiceUnavailable},
	} {
		for _, err := range []error{c.err, fmt.Errorf("context: %w", c.err)} {
			p := Explain(err)
			if p.Status != c.status || p.API == "" || p.Page == "" {
				t.Errorf("Explain(%v) = %+v, want status %d with both messages", err, p, c.status)
			}
		}
	}
	if p := Explain(&account.ThrottledError{RetryAfter: 1500 * time.Millisecond}); p.RetryAfter != 2 || !strings.Contains(p.Page, "2 seconds") {
		t.Errorf("throttled: %+v, want Retry-After 2", p)
	}
	if p := Explain(&account.SignupThrottledError{RetryAfter: 11*time.Minute + 30*time.Second}); p.RetryAfter != 690 || !strings.Contains(p.Page, "Wait 12 minutes") {
		t.Errorf("sign-ups throttled: %+v, want Retry-After 690 and the wait in minutes", p)
	}
	if p := Explain(&account.SignupThrottledError{RetryAfter: 59 * time.Second}); !strings.Contains(p.Page, "Wait 59 seconds") {
		t.Errorf("sign-ups throttled under a minute: %+v", p)
	}
	if p := Explain(&account.FieldError{Field: "new_password", Message: "is too short"}); p.Page != "New password is too short." {
		t.Errorf("field sentence: %q", p.Page)
	}
	secret := errors.New("open /srv/portus/ptk_secretish: permission denied")
	p := Explain(secret)
	if p.Status != http.StatusInternalServerError || p.Log == "" || strings.Contains(p.API+p.Page, "ptk_") {
		t.Errorf("unexpected error: %+v; the client must learn nothing of it", p)
	}
	if p := Explain(model.Unavailable("writing", errors.New("disk /dev/sda1"))); strings.Contains(p.API+p.Page, "sda1") {
		t.Errorf("store detail reached the client: %+v", p)
	}
}
