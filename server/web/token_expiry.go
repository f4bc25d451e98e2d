package web

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/shared/apitypes"
)

// What the pages show of the expiry policy (account/expiry.go): expired
// tokens last and greyed, the tokens about to expire in a banner, the
// lifetimes the policy allows in the create form, and where a token was
// last used.

// sortExpiredLast puts expired tokens after the working ones, keeping
// each group in its order (by creation).
func sortExpiredLast(list []apitypes.Token) []apitypes.Token {
	list = slices.Clone(list)
	slices.SortStableFunc(list, func(a, b apitypes.Token) int {
		switch {
		case a.Expired == b.Expired:
			return 0
		case a.Expired:
			return 1
		}
		return -1
	})
	return list
}

// expiringSoon are the application tokens of list that expire within 7
// days. Login tokens are left out: the next docker login makes another.
func expiringSoon(list []apitypes.Token) []apitypes.Token {
	var soon []apitypes.Token
	for _, t := range list {
		if t.ExpiresSoon && t.Kind != apitypes.KindLogin {
			soon = append(soon, t)
		}
	}
	return soon
}

// presetLifetimes are the create form's choices, in days, before the
// policy's maximum removes the longer ones.
var presetLifetimes = []int{7, 30, 90, 180, 365}

// neverValue is the form value of "no expiry".
const neverValue = ""

// expiryChoices are the lifetimes policy allows, shortest first, its
// default among them, and "never" last when no maximum is set.
func expiryChoices(p account.TokenPolicy) (choices []option, preselected string) {
	const day = 24 * time.Hour
	def := p.DefaultLifetime
	preselected = lifetimeValue(def)
	added := false
	for _, days := range presetLifetimes {
		d := time.Duration(days) * day
		if p.MaxLifetime > 0 && d > p.MaxLifetime {
			break
		}
		if !added && def < d {
			choices, added = append(choices, lifetimeOption(def)), true
		}
		if d == def {
			added = true
		}
		choices = append(choices, lifetimeOption(d))
	}
	if !added {
		choices = append(choices, lifetimeOption(def))
	}
	if p.MaxLifetime == 0 {
		choices = append(choices, option{neverValue, "never (not recommended)"})
	}
	return choices, preselected
}

// lifetimeValue is a lifetime as the form posts it: days, or hours
// ("36h") when not whole days; parseExpiry reads both.
func lifetimeValue(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d / (24 * time.Hour)))
	}
	return strconv.Itoa(int(d/time.Hour)) + "h"
}

func lifetimeOption(d time.Duration) option {
	label := "in " + account.FormatLifetime(d)
	if d == 365*24*time.Hour {
		label = "in a year"
	} else if d%(24*time.Hour) != 0 {
		label = fmt.Sprintf("in %d hours", d/time.Hour)
	}
	return option{lifetimeValue(d), label}
}

// since is ago (activity_names.go) for a token's last use, as the
// template has it: "never" for nil.
func since(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return ago(*t, time.Now())
}

// clientName is the first product of a User-Agent ("docker/28.2.2" of
// "docker/28.2.2 go/go1.24.3 …"): what the table shows; the whole one is
// in its title.
func clientName(ua string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(ua), " ")
	return name
}
