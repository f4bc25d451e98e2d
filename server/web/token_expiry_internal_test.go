package web

import (
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/account"
)

func TestExpiryChoices(t *testing.T) {
	const day = 24 * time.Hour
	for _, c := range []struct {
		policy      account.TokenPolicy
		values      []string
		preselected string
	}{
		{account.TokenPolicy{DefaultLifetime: 90 * day}, []string{"7", "30", "90", "180", "365", ""}, "90"},
		{account.TokenPolicy{MaxLifetime: 100 * day, DefaultLifetime: 90 * day}, []string{"7", "30", "90"}, "90"},
		{account.TokenPolicy{MaxLifetime: 60 * day, DefaultLifetime: 45 * day}, []string{"7", "30", "45"}, "45"},
		{account.TokenPolicy{MaxLifetime: 400 * day, DefaultLifetime: 36 * time.Hour}, []string{"36h", "7", "30", "90", "180", "365"}, "36h"},
	} {
		choices, pre := expiryChoices(c.policy)
		var values []string
		for _, o := range choices {
			values = append(values, o.Value)
		}
		if strings.Join(values, ",") != strings.Join(c.values, ",") || pre != c.preselected {
			t.Errorf("expiryChoices(%+v) = %v preselecting %q, want %v preselecting %q", c.policy, values, pre, c.values, c.preselected)
		}
	}
}
