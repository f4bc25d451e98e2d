package userimport

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Portus has no ACL: its policy is fixed (registryauth.Policy). Every rule
// of a docker_auth acl: is reported with what Portus' default policy does
// instead, so that nothing the old registry allowed disappears unseen:
// administrators may do everything; every signed-in user may pull, push
// and delete below their own name (USER/...) and pull names without a
// "/"; anonymous requests get nothing unless --anonymous-pull allows them.

// Verdicts of a rule under Portus' default policy.
const (
	Granted    = "granted"
	Partly     = "partly"
	NotGranted = "not granted"
)

// Explanation is what Portus does instead of one rule.
type Explanation struct {
	Verdict string
	Instead string
}

// String renders the rule as a line of the report: its match and actions.
func (r Rule) String() string {
	keys := make([]string, 0, len(r.Match))
	for k := range r.Match {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, r.Match[k]))
	}
	if len(parts) == 0 {
		parts = append(parts, "(matches everything)")
	}
	return fmt.Sprintf("line %d: %s → [%s]", r.Line, strings.Join(parts, " "), strings.Join(r.Actions, ","))
}

// Explain says what Portus does instead of rule; admins are the names
// imported as administrators.
func Explain(rule Rule, admins []string) Explanation {
	var e Explanation
	account, hasAccount := rule.Match["account"]
	name, hasName := rule.Match["name"]
	pullOnly := len(rule.Actions) > 0 && !slices.ContainsFunc(rule.Actions, func(a string) bool { return a != "pull" })
	anyName := !hasName || name == "*" || name == "**"
	literal := hasAccount && account != "" && !strings.HasPrefix(account, "/") && !strings.ContainsAny(account, "*?[${")
	switch {
	case len(rule.Actions) == 0:
		e.Verdict, e.Instead = Granted, "nothing to grant: the rule allows no action (Portus refuses by default)"
	case hasAccount && account == "":
		e.Verdict, e.Instead = NotGranted, "no anonymous access: `portus serve --anonymous-pull PATTERN` lets anyone pull matching names (never push)"
		if pullOnly && hasName {
			e.Verdict, e.Instead = Partly, fmt.Sprintf("no anonymous access by default: run portus serve with --anonymous-pull %q", name)
		}
	case literal && slices.Contains(admins, account):
		e.Verdict, e.Instead = Granted, account+" is an administrator: everything"
	case hasName && (name == "${account}/*" || name == "${account}/**" || name == "${account}/.*"):
		e.Verdict, e.Instead = Granted, "every user may pull, push and delete below their own name (USER/...)"
	case pullOnly && hasName && !strings.Contains(name, "/"):
		e.Verdict, e.Instead = Granted, "every signed-in user may pull names without a \"/\""
	case pullOnly && anyName:
		e.Verdict, e.Instead = Partly, "signed-in users pull names without a \"/\" and their own USER/...; others' repositories only administrators (--admin NAME)"
	case literal:
		e.Verdict, e.Instead = Partly, fmt.Sprintf("%s may pull, push and delete %s/... and pull names without a \"/\"; for more, import with --admin %s", account, account, account)
	default:
		e.Verdict, e.Instead = NotGranted, "users may act only on USER/... (and pull names without a \"/\"); anything else needs an administrator (--admin NAME)"
	}
	return e
}
