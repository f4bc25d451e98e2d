package account

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/portusproject/portus/shared/apitypes"
)

// cheap are argon2id costs that keep the tests fast under -race.
var cheap = PasswordParams{Memory: 64, Time: 1, Threads: 1}

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FieldError", err, err)
	}
	return fe.Field
}

func TestValidateUsername(t *testing.T) {
	valid := []string{
		"ab", "alice", "bob2", "a1", "0x", "alice.smith", "alice_smith", "alice__smith",
		"alice-smith", "alice---smith", "a.b_c-d", strings.Repeat("a", 64),
	}
	invalid := []string{
		"", "a", strings.Repeat("a", 65),
		"Alice", "ALICE", "aliCe",
		"-alice", ".alice", "_alice", "alice-", "alice.", "alice_",
		"alice..smith", "alice___smith", "alice._smith", "alice-.smith",
		"alice smith", " alice", "alice\n", "alice/app", "alice:x", "alice@x", "al!ce",
		"\u0430lice",  // Cyrillic а
		"b\u043eb",    // Cyrillic о
		"\uff41lice",  // fullwidth ａ
		"alice\u200b", // zero-width space
		"ali\u0301ce", // combining accent
		"éa", "ß" + "ab",
	}
	for _, name := range valid {
		if err := ValidateUsername(name); err != nil {
			t.Errorf("ValidateUsername(%q) = %v, want ok", name, err)
		}
	}
	for _, name := range invalid {
		err := ValidateUsername(name)
		if err == nil {
			t.Errorf("ValidateUsername(%q) = nil, want an error", name)
			continue
		}
		if f := fieldOf(t, err); f != "name" {
			t.Errorf("ValidateUsername(%q) names field %q, want name", name, f)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	valid := []string{
		"12345678", strings.Repeat("x", 128), "correct horse battery staple",
		strings.Repeat("é", 8),   // 8 characters, 16 bytes
		strings.Repeat("é", 128), // 128 characters, 256 bytes
		"ptk_lookslikeatokenbutisnt",
	}
	invalid := []string{
		"", "1234567", strings.Repeat("x", 129), strings.Repeat("é", 7), strings.Repeat("é", 129),
		"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", // not UTF-8
	}
	for _, p := range valid {
		if err := ValidatePassword(p); err != nil {
			t.Errorf("ValidatePassword(len %d) = %v, want ok", len(p), err)
		}
	}
	for _, p := range invalid {
		err := ValidatePassword(p)
		if err == nil {
			t.Errorf("ValidatePassword(len %d) = nil, want an error", len(p))
			continue
		}
		if f := fieldOf(t, err); f != "password" {
			t.Errorf("ValidatePassword names field %q, want password", f)
		}
	}
}

func TestValidateTokenName(t *testing.T) {
	valid := []string{
		"a", "ci", "laptop (home)", "build-server #3", "Ünïcödé ✓", "日本語", strings.Repeat("n", 64),
		strings.Repeat("日", 64), " padded ",
	}
	invalid := []string{
		"", " ", "   ", "\t",
		"a\x00b", "line\nbreak", "tab\there", "bell\a", "esc\x1b[31m", "del\x7f",
		"zero\u200bwidth", "rtl\u202eoverride", "bom\ufeff",
		strings.Repeat("n", 65), strings.Repeat("日", 65), strings.Repeat("x", 10000),
		"bad\xffutf8",
	}
	for _, n := range valid {
		if err := ValidateTokenName(n); err != nil {
			t.Errorf("ValidateTokenName(%q) = %v, want ok", n, err)
		}
	}
	for _, n := range invalid {
		err := ValidateTokenName(n)
		if err == nil {
			t.Errorf("ValidateTokenName(%.40q) = nil, want an error", n)
			continue
		}
		if f := fieldOf(t, err); f != "name" {
			t.Errorf("ValidateTokenName(%.40q) names field %q, want name", n, f)
		}
	}
}

func TestNormalizeScope(t *testing.T) {
	for in, want := range map[string]string{"": "push", "pull": "pull", "push": "push", "delete": "delete"} {
		got, err := NormalizeScope(in)
		if err != nil || got != want {
			t.Errorf("NormalizeScope(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"PULL", "Push", " push", "push ", "admin", "*", "pull,push", "repository:x:pull", "read"} {
		_, err := NormalizeScope(in)
		if err == nil {
			t.Errorf("NormalizeScope(%q) = nil error", in)
			continue
		}
		if f := fieldOf(t, err); f != "scope" {
			t.Errorf("NormalizeScope(%q) names field %q", in, f)
		}
	}
	// Each scope includes the ones before it: pull < push < delete.
	if !(scopeRank[apitypes.ScopePull] < scopeRank[apitypes.ScopePush] && scopeRank[apitypes.ScopePush] < scopeRank[apitypes.ScopeDelete]) {
		t.Errorf("scope ranks are not ordered pull < push < delete: %v", scopeRank)
	}
}

func TestHashPasswordDefaultParams(t *testing.T) {
	// The one hash with the real (OWASP) parameters.
	h, err := HashPassword("correct horse battery staple", DefaultPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not start with $argon2id$v=19$m=19456,t=2,p=1$", h)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h) {
		t.Errorf("hash %q is not a PHC string with a 16-byte salt and a 32-byte key", h)
	}
	if ok, err := checkPassword("correct horse battery staple", h); !ok || err != nil {
		t.Errorf("checkPassword(right) = %v, %v", ok, err)
	}
	if ok, err := checkPassword("correct horse battery stapler", h); ok || err != nil {
		t.Errorf("checkPassword(wrong) = %v, %v", ok, err)
	}
}

func TestHashPasswordRoundTrip(t *testing.T) {
	pw := "pässwörd-ünicode-✓"
	h1, err := HashPassword(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q does not carry its parameters", h1)
	}
	if strings.Contains(h1, pw) {
		t.Error("hash contains the password")
	}
	for _, h := range []string{h1, h2} {
		if ok, err := checkPassword(pw, h); !ok || err != nil {
			t.Errorf("checkPassword(right) = %v, %v", ok, err)
		}
	}
	for _, wrong := range []string{"", "pässwörd-ünicode-✓ ", "Pässwörd-ünicode-✓", "pässwörd-ünicode-"} {
		if ok, err := checkPassword(wrong, h1); ok || err != nil {
			t.Errorf("checkPassword(%q) = %v, %v; want false, nil", wrong, ok, err)
		}
	}
	// Unreadable hashes are errors, never a match.
	parts := strings.Split(h1, "$")
	for _, bad := range []string{
		"", "plaintext", "$2a$12$abcdefghijklmnopqrstuu", // bcrypt is not accepted
		strings.Replace(h1, "argon2id", "argon2i", 1),
		strings.Replace(h1, "v=19", "v=16", 1),
		strings.Replace(h1, "m=64,t=1,p=1", "m=64;t=1;p=1", 1),
		strings.Join(append(parts[:4:4], "!!!", parts[5]), "$"),
		strings.Join(append(parts[:5:5], ""), "$"),
		h1 + "$extra",
	} {
		if ok, err := checkPassword(pw, bad); ok || err == nil {
			t.Errorf("checkPassword with hash %q = %v, %v; want false and an error", bad, ok, err)
		}
	}
}
