package registryurl

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"registry.example.com", "registry.example.com"},
		{"Registry.Example.COM", "registry.example.com"},
		{"https://registry.example.com", "registry.example.com"},
		{"http://registry.example.com/", "registry.example.com"},
		{"https://registry.example.com/v2/", "registry.example.com"},
		{"registry.example.com/v1/", "registry.example.com"},
		{"  registry.example.com\n", "registry.example.com"},
		{"localhost:5000", "localhost:5000"},
		{"http://localhost:5000", "localhost:5000"},
		{"https://LOCALHOST:5000/v2/", "localhost:5000"},
		{"https://alice:pw@registry.example.com:8443/x?y=1#z", "registry.example.com:8443"},
		{"127.0.0.1:5000", "127.0.0.1:5000"},
		{"[::1]:5000", "[::1]:5000"},
		{"http://[::1]", "[::1]"},
		{"registry.example.com:443", "registry.example.com:443"},
		{"my_registry.internal", "my_registry.internal"},
		// Docker Hub and its aliases.
		{"https://index.docker.io/v1/", DockerHub},
		{"index.docker.io", DockerHub},
		{"docker.io", DockerHub},
		{"DOCKER.IO", DockerHub},
		{"registry-1.docker.io", DockerHub},
		{"https://registry-1.docker.io/v2/", DockerHub},
		{"https://index.docker.io/v1", DockerHub},
		{"index.docker.io:443", DockerHub},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil {
			t.Errorf("Normalize(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeInvalid(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		"ftp://registry.example.com",
		"https://",
		"https:///v2/",
		"registry.example.com:0",
		"registry.example.com:99999",
		"registry.example.com:http",
		"regi stry.example.com",
		"[not-an-ip]:5000",
		"-bad.example.com",
	} {
		got, err := Normalize(in)
		if err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, got)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) error %v does not wrap ErrInvalid", in, err)
		}
	}
}

func TestNormalizeErrorHidesUserInfo(t *testing.T) {
	_, err := Normalize("https://alice:s3cret@registry example.com")
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error repeats the password: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	tests := map[string]bool{
		"localhost":            true,
		"localhost:5000":       true,
		"LOCALHOST:5000":       true,
		"registry.localhost":   true,
		"127.0.0.1":            true,
		"127.1.2.3:5000":       true,
		"[::1]:5000":           true,
		"[::1]":                true,
		"registry.example.com": false,
		"10.0.0.1:5000":        false,
		"localhost.example":    false,
		"[2001:db8::1]:5000":   false,
	}
	for in, want := range tests {
		if got := IsLoopback(in); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestHostname(t *testing.T) {
	for in, want := range map[string]string{
		"registry.example.com":      "registry.example.com",
		"Registry.Example.com:5000": "registry.example.com",
		"registry.example.com.":     "registry.example.com",
		"[::1]:5000":                "::1",
		"[::1]":                     "::1",
		"127.0.0.1:5000":            "127.0.0.1",
		DockerHub:                   "index.docker.io",
	} {
		if got := Hostname(in); got != want {
			t.Errorf("Hostname(%q) = %q, want %q", in, got, want)
		}
	}
}
