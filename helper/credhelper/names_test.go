package credhelper

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/portusproject/portus/helper/config"
)

func TestTokenName(t *testing.T) {
	fits := strings.Repeat("a", 39)
	if got := tokenName(fits); got != "docker-credential-portus@"+fits {
		t.Errorf("tokenName(39 characters) = %q, want it unchanged", got)
	}
	if got := tokenName("box"); got != "docker-credential-portus@box" {
		t.Errorf("tokenName(box) = %q", got)
	}
	hosts := []string{
		strings.Repeat("a", 40),
		strings.Repeat("a", 41),
		strings.Repeat("a", 40) + ".example.com",
		strings.Repeat("a", 40) + ".example.org",
		strings.Repeat("é", 70), // 70 characters, 140 bytes
		"bad\x00host",
		"bad\x01host",
		"bad\xffhost",
	}
	seen := map[string]string{}
	for _, h := range hosts {
		name := tokenName(h)
		if again := tokenName(h); again != name {
			t.Errorf("tokenName(%q) is not stable: %q, %q", h, name, again)
		}
		if n := utf8.RuneCountInString(name); n > 64 || !utf8.ValidString(name) {
			t.Errorf("tokenName(%q) = %q: %d characters", h, name, n)
		}
		for _, r := range name {
			if !unicode.IsPrint(r) {
				t.Errorf("tokenName(%q) = %q holds %U", h, name, r)
			}
		}
		if !strings.HasPrefix(name, "docker-credential-portus@") {
			t.Errorf("tokenName(%q) = %q", h, name)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("tokenName(%q) = tokenName(%q) = %q", h, other, name)
		}
		seen[name] = h
	}
	long := tokenName(strings.Repeat("b", 30) + strings.Repeat("x", 20))
	if want := "docker-credential-portus@" + strings.Repeat("b", 30) + "~"; !strings.HasPrefix(long, want) || len(long) != 64 {
		t.Errorf("tokenName(50 characters) = %q, want %q and 8 hex digits", long, want)
	}
}

func TestSameParent(t *testing.T) {
	tests := []struct {
		registry, realm string
		want            bool
	}{
		{"registry.example.com", "portus.example.com", true},
		{"registry.example.com", "registry.example.com", true}, // also same host
		{"a.b.example.com", "c.b.example.com", true},
		{"registry.example.com", "portus.example.org", false},
		{"registry.example.com", "example.com", false},
		{"registry.example.com", "auth.registry.example.com", false},
		{"registry.example.com", "a.portus.example.com", false},
		{"registry.example.com", "evilexample.com", false},
		{"example.com", "evil.com", false}, // parent "com" is one label
		{"example.com", "portus.example.com", false},
		{"localhost", "portus.localhost", false},
		{"10.0.0.1", "10.0.0.2", false},
		{"::1", "::2", false},
	}
	for _, tt := range tests {
		if got := sameParent(tt.registry, tt.realm); got != tt.want {
			t.Errorf("sameParent(%q, %q) = %v, want %v", tt.registry, tt.realm, got, tt.want)
		}
	}
}

func TestCheckRealm(t *testing.T) {
	tests := []struct {
		registry, portus string
		strict           bool
		wantErr          bool
		wantNotice       string
	}{
		{"registry.example.com", "https://registry.example.com", true, false, ""},
		{"registry.example.com:5000", "https://registry.example.com:8443/portus", true, false, ""}, // ports are not compared
		{"Registry.Example.com.", "https://registry.example.com", true, false, ""},
		{"registry.example.com", "https://portus.example.com", true, false,
			"sending your password to portus.example.com, the token server named by registry.example.com"},
		{"registry.example.com", "https://portus.example.com", false, false,
			"sending your password to portus.example.com, the token server named by registry.example.com"},
		{"registry.example.com", "https://portus.evil.example", true, true, ""},
		{"registry.example.com", "https://portus.evil.example", false, false,
			"sending your password to portus.evil.example, the token server named by registry.example.com"},
		{"[::1]:5000", "http://[::1]:3000", true, false, ""},
		{"127.0.0.1:5000", "http://localhost:3000", true, true, ""},
	}
	for _, tt := range tests {
		var stderr strings.Builder
		h := New(Options{Stderr: &stderr})
		cfg := &config.Config{Path: "/cfg/config.json", Strict: tt.strict}
		err := h.checkRealm(cfg, tt.registry, tt.portus)
		if (err != nil) != tt.wantErr {
			t.Errorf("checkRealm(%s, %s, strict %v) = %v", tt.registry, tt.portus, tt.strict, err)
		}
		if tt.wantNotice == "" && stderr.Len() != 0 || !strings.Contains(stderr.String(), tt.wantNotice) {
			t.Errorf("checkRealm(%s, %s, strict %v) printed %q, want %q", tt.registry, tt.portus, tt.strict, stderr.String(), tt.wantNotice)
		}
	}
}

func TestTokenNameDocumentedExample(t *testing.T) {
	// README.md and tokenName's documentation show this one.
	const want = "docker-credential-portus@build-agent-0017.ci-runners.eu~bfe6e92b"
	if got := tokenName("build-agent-0017.ci-runners.europe-west-1.corp.example.com"); got != want {
		t.Fatalf("tokenName = %q, want %q", got, want)
	}
}
