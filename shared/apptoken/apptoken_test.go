package apptoken

import (
	"regexp"
	"strings"
	"testing"
)

func TestNewIsValidAndUnique(t *testing.T) {
	re := regexp.MustCompile("^" + Pattern + "$")
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != Len || !re.MatchString(tok) {
			t.Fatalf("token %d has the wrong shape (len %d)", i, len(tok))
		}
		if err := Check(tok); err != nil {
			t.Fatalf("fresh token fails Check: %v", err)
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
	}
}

func TestCheckRejectsTyposAndPasswords(t *testing.T) {
	tok, err := New()
	if err != nil {
		t.Fatal(err)
	}
	// Every single-character substitution in the random part or the checksum
	// must be caught by the checksum.
	body := []byte(tok)
	for i := len(Prefix); i < len(body); i++ {
		orig := body[i]
		for _, c := range []byte("0aZ") {
			if c == orig {
				continue
			}
			body[i] = c
			if Valid(string(body)) {
				t.Fatalf("substitution at %d accepted", i)
			}
		}
		body[i] = orig
	}
	for _, s := range []string{
		"", "ptk_", "hunter2hunter2", tok[:Len-1], tok + "0",
		"PTK_" + tok[4:], strings.Replace(tok, tok[10:11], "-", 1),
		"xtk_" + tok[4:],
	} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true", Redact(s))
		}
	}
}

func TestLooksLike(t *testing.T) {
	tok, _ := New()
	typo := tok[:Len-1] + "!"
	if !LooksLike(typo) || Valid(typo) {
		t.Fatal("a mistyped token should look like a token but not be valid")
	}
	if LooksLike("correct horse battery staple") {
		t.Fatal("a password looks like a token")
	}
}

func TestRedactKeepsSecretOut(t *testing.T) {
	tok, _ := New()
	r := Redact(tok)
	if strings.Contains(r, tok[len(Prefix):len(Prefix)+RandomLen]) || len(r) > 12 {
		t.Fatalf("Redact leaks the secret: %q", r)
	}
	if Redact("my password") != "[redacted]" {
		t.Fatal("Redact of a non-token must hide it all")
	}
}

func FuzzCheck(f *testing.F) {
	tok, _ := New()
	for _, s := range []string{tok, "", "ptk_", tok[:Len-1] + "x", "ptk_" + strings.Repeat("0", 38)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := Check(s)
		if err == nil && (!LooksLike(s) || !regexp.MustCompile("^"+Pattern+"$").MatchString(s)) {
			t.Fatalf("Check accepted a string outside the format")
		}
	})
}
