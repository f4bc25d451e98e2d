package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
)

// actionNames are the audit log's actions as the activity page says them.
// The log keeps the dotted names (the CSV has both): they are stable for
// scripts, these are for people.
var actionNames = map[string]string{
	model.ActionAuthFailure:               "Failed sign-in",
	"session.start":                       "Signed in",
	"session.end":                         "Signed out",
	"token.create":                        "Created token",
	"token.revoke":                        "Removed token",
	"user.create":                         "Created account",
	"user.admin.grant":                    "Made administrator",
	"user.admin.revoke":                   "Removed administrator",
	"user.disable":                        "Disabled account",
	"user.enable":                         "Enabled account",
	"user.unlock":                         "Unlocked sign-in",
	"user.password.change":                "Changed password",
	"user.password.change.refused":        "Password change refused",
	"user.docker_login.tokens_only":       "docker login: tokens only",
	"user.docker_login.passwords_allowed": "docker login: password allowed",
	"user.docker_login.default":           "docker login: server's policy",
	account.ActionTokenRotate:             "Regenerated token",
	account.ActionTokenReuse:              "Replaced secret used",
	account.ActionLeakedGraceEnd:          "Leak report ended the old secret of token",
	"user.sso.link":                       "Linked for single sign-on",
	"user.sso.bind":                       "Bound to a single sign-on identity",
	"user.password.rehash":                "Password hash upgraded",
	"device.request":                      "Device code requested",
	"device.approve":                      "Approved device login",
	"device.deny":                         "Denied device login",
	"device.expire":                       "Device code expired",
}

// actionName is an entry's action for people: "Created token 'ci'".
// Unknown actions keep their dotted name.
func actionName(a model.Activity) string {
	name, ok := actionNames[a.Action]
	if !ok {
		return a.Action
	}
	if a.TokenName != "" && strings.HasPrefix(a.Action, "token.") {
		name += fmt.Sprintf(" '%s'", a.TokenName)
	}
	return name
}

// actionFilters are the choices of the activity page's action filter:
// a value is a prefix of the actions it selects.
var actionFilters = []option{
	{"", "all actions"},
	{"session.", "sign-ins and sign-outs"},
	{model.ActionAuthFailure, "failed sign-ins"},
	{"token.", "tokens"},
	{"device.", "device logins"},
	{"user.password.", "passwords"},
	{"user.", "account changes"},
}

// matchesAction reports whether a belongs under the filter value f.
func matchesAction(a model.Activity, f string) bool {
	return f == "" || a.Action == f || (strings.HasSuffix(f, ".") && strings.HasPrefix(a.Action, f))
}

// clientAddress is the address column: gin reports a unix-socket peer,
// which is the admin CLI, as "<nil>".
func clientAddress(ip string) string {
	if ip == "<nil>" {
		return "admin CLI"
	}
	return ip
}

// ago says how long before now t was, roughly: "5 s ago", "3 min ago",
// "2 h ago", "4 days ago".
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}
