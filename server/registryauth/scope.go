package registryauth

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Resource types and actions of registry scopes.
const (
	TypeRepository = "repository"
	TypeRegistry   = "registry"

	ActionPull   = "pull"
	ActionPush   = "push"
	ActionDelete = "delete"
	ActionAll    = "*"

	// CatalogName is the only resource name of type "registry".
	CatalogName = "catalog"
)

// Limits on what one token request may ask for. They keep ParseScopes linear
// in its input and bound the size of the token.
const (
	// MaxScopes is the largest number of distinct type:name pairs in one request.
	MaxScopes = 100
	// MaxScopeInput is the largest total length, in bytes, of the raw scope strings.
	MaxScopeInput = 64 << 10
	// MaxRepositoryNameLength is the longest repository name, as in distribution.
	MaxRepositoryNameLength = 255
	// maxActions bounds the distinct unknown actions of one merged scope.
	maxActions = 16
	// maxErrorScope is how much of an offending scope ScopeError.Error quotes.
	maxErrorScope = 100
)

// Scope is one requested resource, such as repository:alice/app:pull,push.
//
// Type is TypeRepository or TypeRegistry; a resource class is dropped
// ("repository(plugin)" becomes "repository"), because the registry checks
// access by type and name only. Actions holds the known actions first, in
// the order pull, push, delete, "*", then any unknown actions in the order
// they first appeared; Policy.Grant drops the unknown ones.
type Scope struct {
	Type    string
	Name    string
	Actions []string
}

// String returns the scope in the type:name:actions form.
func (s Scope) String() string {
	return s.Type + ":" + s.Name + ":" + strings.Join(s.Actions, ",")
}

// ScopeError reports a malformed scope, or a request that asks for too much.
// The token endpoint answers it with 400. Scope is the offending scope as the
// client sent it; it is empty when the request as a whole is at fault.
type ScopeError struct {
	Scope  string
	Reason string
}

// Error names the offending scope, quoted and cut to about 100 bytes.
func (e *ScopeError) Error() string {
	if e.Scope == "" {
		return "invalid scope: " + e.Reason
	}
	return fmt.Sprintf("invalid scope %q: %s", truncate(e.Scope, maxErrorScope), e.Reason)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// ParseScopes parses the scope parameters of a token request. Each element
// of raw is one "scope" query parameter or form field and may hold several
// scopes separated by spaces (the OAuth2 POST form); empty strings and
// repeated spaces are ignored. Scopes for the same type and name are merged
// into one, which keeps the position of its first appearance.
//
// Every error is a *ScopeError. No scopes at all (docker login asks for
// none) returns nil and no error. The work is linear in the input, which may
// total at most MaxScopeInput bytes and MaxScopes distinct scopes.
func ParseScopes(raw []string) ([]Scope, error) {
	total := 0
	for _, r := range raw {
		total += len(r)
		if total > MaxScopeInput {
			return nil, &ScopeError{Reason: fmt.Sprintf("scope parameters longer than %d bytes", MaxScopeInput)}
		}
	}

	type key struct{ typ, name string }
	var (
		out   []Scope
		sets  []actionSet
		index map[key]int
	)
	for _, r := range raw {
		for r != "" {
			var one string
			if i := strings.IndexByte(r, ' '); i >= 0 {
				one, r = r[:i], r[i+1:]
			} else {
				one, r = r, ""
			}
			if one == "" {
				continue
			}
			typ, name, actions, err := splitScope(one)
			if err != nil {
				return nil, err
			}
			k := key{typ, name}
			j, seen := index[k]
			if !seen {
				if len(out) == MaxScopes {
					return nil, &ScopeError{Scope: one, Reason: fmt.Sprintf("too many scopes (at most %d per request)", MaxScopes)}
				}
				if index == nil {
					index = make(map[key]int)
				}
				j = len(out)
				index[k] = j
				out = append(out, Scope{Type: typ, Name: name})
				sets = append(sets, actionSet{})
			}
			if err := sets[j].addList(one, actions); err != nil {
				return nil, err
			}
			if typ == TypeRegistry && (sets[j].known != bitAll || len(sets[j].unknown) > 0) {
				return nil, &ScopeError{Scope: one, Reason: `registry scopes allow only the action "*"`}
			}
		}
	}
	for j := range out {
		out[j].Actions = sets[j].strings()
	}
	return out, nil
}

// splitScope checks one type:name:actions scope. The type ends at the first
// colon and the actions start after the last, so a name holding a colon (a
// host:port) is left with the name and rejected by the name grammar.
func splitScope(s string) (typ, name, actions string, err error) {
	first := strings.IndexByte(s, ':')
	last := strings.LastIndexByte(s, ':')
	if first < 0 || first == last {
		return "", "", "", &ScopeError{Scope: s, Reason: "want type:name:actions"}
	}
	typ, name, actions = s[:first], s[first+1:last], s[last+1:]
	switch {
	case typ == TypeRepository, typ == TypeRegistry:
	case isRepositoryClass(typ):
		typ = TypeRepository
	default:
		return "", "", "", &ScopeError{Scope: s, Reason: "unknown resource type (want repository or registry)"}
	}
	switch {
	case name == "":
		return "", "", "", &ScopeError{Scope: s, Reason: "empty resource name"}
	case actions == "":
		return "", "", "", &ScopeError{Scope: s, Reason: "no actions"}
	case typ == TypeRegistry && name != CatalogName:
		return "", "", "", &ScopeError{Scope: s, Reason: `the only registry resource is "catalog"`}
	case typ == TypeRepository && !ValidRepositoryName(name):
		return "", "", "", &ScopeError{Scope: s, Reason: "invalid repository name"}
	}
	return typ, name, actions, nil
}

// isRepositoryClass reports whether typ is "repository(CLASS)" with an
// alphanumeric class, as in distribution's resource scope grammar.
func isRepositoryClass(typ string) bool {
	rest, ok := strings.CutPrefix(typ, TypeRepository+"(")
	if !ok {
		return false
	}
	class, ok := strings.CutSuffix(rest, ")")
	if !ok || class == "" {
		return false
	}
	for i := 0; i < len(class); i++ {
		if c := class[i]; !isLowerAlnum(c) && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// ValidRepositoryName reports whether name is a repository name in
// distribution's grammar: path components of lowercase letters and digits,
// separated inside a component by ".", "_", "__" or one or more "-", joined
// by "/", at most MaxRepositoryNameLength bytes in all.
func ValidRepositoryName(name string) bool {
	if name == "" || len(name) > MaxRepositoryNameLength {
		return false
	}
	for {
		component, rest, more := strings.Cut(name, "/")
		if !validComponent(component) {
			return false
		}
		if !more {
			return true
		}
		name = rest
	}
}

func validComponent(c string) bool {
	if c == "" || !isLowerAlnum(c[0]) || !isLowerAlnum(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); {
		if isLowerAlnum(c[i]) {
			i++
			continue
		}
		j := i
		for j < len(c) && !isLowerAlnum(c[j]) {
			j++
		}
		switch sep := c[i:j]; sep {
		case ".", "_", "__":
		default:
			if strings.Trim(sep, "-") != "" {
				return false
			}
		}
		i = j
	}
	return true
}

func isLowerAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// actionBits is a set of the known actions.
type actionBits uint8

const (
	bitPull actionBits = 1 << iota
	bitPush
	bitDelete
	bitAll // the "*" action itself

	bitsRepository = bitPull | bitPush | bitDelete
)

// knownActions lists the known actions in their canonical order.
var knownActions = [...]struct {
	name string
	bit  actionBits
}{
	{ActionPull, bitPull},
	{ActionPush, bitPush},
	{ActionDelete, bitDelete},
	{ActionAll, bitAll},
}

func actionBit(a string) actionBits {
	for _, k := range knownActions {
		if k.name == a {
			return k.bit
		}
	}
	return 0
}

// strings returns the actions of b in canonical order; never nil.
func (b actionBits) strings() []string {
	out := make([]string, 0, 4)
	for _, k := range knownActions {
		if b&k.bit != 0 {
			out = append(out, k.name)
		}
	}
	return out
}

// actionSet collects the actions of one merged scope.
type actionSet struct {
	known   actionBits
	unknown []string
}

// addList adds the comma-separated actions of scope. Empty elements
// ("pull,,push") are skipped, but at least one action must remain.
func (s *actionSet) addList(scope, list string) error {
	added := false
	for list != "" {
		a, rest, _ := strings.Cut(list, ",")
		list = rest
		if a == "" {
			continue
		}
		added = true
		if bit := actionBit(a); bit != 0 {
			s.known |= bit
			continue
		}
		if s.hasUnknown(a) {
			continue
		}
		if len(s.unknown) == maxActions {
			return &ScopeError{Scope: scope, Reason: fmt.Sprintf("too many unknown actions (at most %d)", maxActions)}
		}
		s.unknown = append(s.unknown, a)
	}
	if !added {
		return &ScopeError{Scope: scope, Reason: "no actions"}
	}
	return nil
}

func (s *actionSet) hasUnknown(a string) bool {
	for _, u := range s.unknown {
		if u == a {
			return true
		}
	}
	return false
}

func (s *actionSet) strings() []string {
	return append(s.known.strings(), s.unknown...)
}
