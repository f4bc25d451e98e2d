package account

import (
	"regexp"
	"unicode"
	"unicode/utf8"

	"github.com/portusproject/portus/shared/apitypes"
)

// FieldError is a request field that breaks a rule. Its message names the
// field and says what is allowed.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// usernamePattern is a Docker repository path component: lowercase letters
// and digits, separated by '.', '_', '__' or runs of '-', so that a user's
// name is a valid namespace ("alice/app").
var usernamePattern = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// ValidateUsername checks the rules for account names.
func ValidateUsername(name string) error {
	if len(name) < 2 || len(name) > 64 || !usernamePattern.MatchString(name) {
		return &FieldError{"name", "must be 2 to 64 lowercase letters or digits, optionally separated by '.', '_' or '-' (a valid Docker namespace)"}
	}
	if name == LocalAdminName {
		return &FieldError{"name", "is reserved for the admin command line; choose another"}
	}
	return nil
}

// Password length limits, in characters.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// ValidatePassword checks the length rules for passwords.
func ValidatePassword(password string) error {
	if !utf8.ValidString(password) {
		return &FieldError{"password", "must be valid UTF-8"}
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || n > MaxPasswordLen {
		return &FieldError{"password", "must be 8 to 128 characters long"}
	}
	return nil
}

// ValidateTokenName checks the rules for application token names: 1 to 64
// printable characters.
func ValidateTokenName(name string) error {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 64 {
		return &FieldError{"name", "must be 1 to 64 printable characters"}
	}
	blank := true
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return &FieldError{"name", "must not contain control or invisible characters"}
		}
		if !unicode.IsSpace(r) {
			blank = false
		}
	}
	if blank {
		return &FieldError{"name", "must not be blank"}
	}
	return nil
}

// scopeRank orders token scopes: each includes the ones ranked below it.
var scopeRank = map[string]int{apitypes.ScopePull: 1, apitypes.ScopePush: 2, apitypes.ScopeDelete: 3}

// NormalizeScope returns the scope to store, "push" when empty.
func NormalizeScope(scope string) (string, error) {
	if scope == "" {
		return apitypes.ScopePush, nil
	}
	if _, ok := scopeRank[scope]; !ok {
		return "", &FieldError{"scope", `must be "pull", "push" or "delete"`}
	}
	return scope, nil
}
