package registryauth

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// Application token scopes, each including the ones before it. The empty
// scope means the subject signed in with the password.
const (
	TokenScopePassword = ""
	TokenScopePull     = "pull"
	TokenScopePush     = "push"
	TokenScopeDelete   = "delete"
)

// Subject is who asks for a token, as the handler authenticated them.
type Subject struct {
	// Name is the user name, or "" for an anonymous request.
	Name string
	// Admin grants everything; it is ignored for an anonymous subject.
	Admin bool
	// TokenScope is the application token's scope ("pull", "push" or
	// "delete", each including the ones before), or "" when the user
	// authenticated with the password (full rights of the user). Any other
	// value grants nothing.
	TokenScope string
}

// Access is one entry of a token's "access" claim: what the token allows on
// one resource. Actions marshals as [] when empty, never as null.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// MarshalJSON encodes a with nil Actions as [], which registries expect.
func (a Access) MarshalJSON() ([]byte, error) {
	type plain Access // without this method
	if a.Actions == nil {
		a.Actions = []string{}
	}
	return json.Marshal(plain(a))
}

// Policy decides what a signed-in or anonymous subject may do. Admins may
// always do everything, registry:catalog:* included; nobody else may read
// the catalog. The zero Policy grants nothing to anyone but admins.
type Policy struct {
	// UserNamespaces gives every user pull, push and delete on the
	// repositories below their own name, at any depth: user alice gets
	// "alice/app" and "alice/team/app", but neither "alice" nor "alicex/app".
	UserNamespaces bool

	// AuthenticatedPullTopLevel lets every signed-in user pull the
	// repositories whose name holds no "/" ("busybox", not "bob/app").
	AuthenticatedPullTopLevel bool

	// AnonymousPull lists path.Match patterns of repositories that anyone,
	// signed in or not, may pull. "*" does not cross a "/": "library/*"
	// matches "library/busybox" but not "library/a/b". Empty: anonymous
	// requests get no access at all.
	AnonymousPull []string
}

// Validate reports a malformed AnonymousPull pattern. Grant treats such a
// pattern as matching nothing.
func (p Policy) Validate() error {
	for _, pattern := range p.AnonymousPull {
		if _, err := path.Match(pattern, ""); err != nil {
			return fmt.Errorf("anonymous pull pattern %q: %w", pattern, err)
		}
	}
	return nil
}

// Grant returns what sub may do of what it requested: one Access per
// requested scope, in the same order, holding the requested actions that
// both the policy and the subject's token scope allow. Refused actions are
// dropped, and unknown actions with them; a scope with nothing left keeps
// its entry with empty Actions, as distribution's token specification puts
// it ("the intersected set would be empty, []"). The registry then answers
// that resource with 401 insufficient_scope. Grant never fails: a request
// it cannot satisfy simply yields fewer actions.
//
// A requested "*" on a repository stands for pull, push and delete and is
// granted as those (the registry only ever checks those three). On
// registry:catalog it is granted as "*", to admins whose token scope is
// any valid one: reading the catalog is read-only, so a pull token suffices.
func (p Policy) Grant(sub Subject, requested []Scope) []Access {
	ceiling := tokenCeiling(sub.TokenScope)
	admin := sub.Admin && sub.Name != ""
	out := make([]Access, 0, len(requested))
	for _, s := range requested {
		var want actionBits
		for _, a := range s.Actions {
			want |= actionBit(a)
		}
		var granted []string
		switch s.Type {
		case TypeRepository:
			if want&bitAll != 0 {
				want |= bitsRepository
			}
			granted = (want & p.repositoryRights(sub, admin, s.Name) & ceiling).strings()
		case TypeRegistry:
			if s.Name == CatalogName && want&bitAll != 0 && admin && ceiling&bitPull != 0 {
				granted = bitAll.strings()
			} else {
				granted = []string{}
			}
		default:
			granted = []string{}
		}
		out = append(out, Access{Type: s.Type, Name: s.Name, Actions: granted})
	}
	return out
}

// tokenCeiling is what an application token scope allows on repositories.
func tokenCeiling(scope string) actionBits {
	switch scope {
	case TokenScopePassword, TokenScopeDelete:
		return bitsRepository
	case TokenScopePush:
		return bitPull | bitPush
	case TokenScopePull:
		return bitPull
	}
	return 0
}

// repositoryRights is what the policy, before the token scope, allows sub on
// the repository name.
func (p Policy) repositoryRights(sub Subject, admin bool, name string) actionBits {
	if !ValidRepositoryName(name) {
		return 0
	}
	if admin {
		return bitsRepository
	}
	signedIn := sub.Name != ""
	// A user name that is not a single path component (it holds a "/", say)
	// owns no namespace rather than part of someone else's.
	if signedIn && p.UserNamespaces && validComponent(sub.Name) &&
		len(name) > len(sub.Name)+1 && name[len(sub.Name)] == '/' && strings.HasPrefix(name, sub.Name) {
		return bitsRepository
	}
	if signedIn && p.AuthenticatedPullTopLevel && !strings.Contains(name, "/") {
		return bitPull
	}
	for _, pattern := range p.AnonymousPull {
		if ok, err := path.Match(pattern, name); ok && err == nil {
			return bitPull
		}
	}
	return 0
}
