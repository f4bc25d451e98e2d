package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/config"
)

func TestRegistryHosts(t *testing.T) {
	load := func(args []string, env map[string]string) (config.Config, error) {
		c, _, err := load(t, args, env, nil)
		if err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := load(nil, nil)
	if err != nil || c.RegistryHosts != nil || c.DockerHosts() != nil {
		t.Fatalf("defaults: %v %v, %v; the service \"registry\" is no host name", c.RegistryHosts, c.DockerHosts(), err)
	}
	c, err = load([]string{"--service", "registry", "--service", "registry.example.com:5000", "--service", "10.0.0.1"}, nil)
	if want := []string{"registry.example.com:5000", "10.0.0.1"}; err != nil || !slices.Equal(c.DockerHosts(), want) {
		t.Errorf("derived from --service: %v, %v; want %v", c.DockerHosts(), err, want)
	}
	c, err = load([]string{"--service", "registry.internal:5000", "--registry-hosts", "registry.example.com"}, nil)
	if want := []string{"registry.example.com"}; err != nil || !slices.Equal(c.DockerHosts(), want) {
		t.Errorf("--registry-hosts beats --service: %v, %v", c.DockerHosts(), err)
	}
	c, err = load(nil, map[string]string{"PORTUS_REGISTRY_HOSTS": "a.example.com,b.example.com:443"})
	if want := []string{"a.example.com", "b.example.com:443"}; err != nil || !slices.Equal(c.DockerHosts(), want) {
		t.Errorf("environment: %v, %v", c.DockerHosts(), err)
	}
	file := filepath.Join(t.TempDir(), "portus.yaml")
	if err := os.WriteFile(file, []byte("registry_hosts: [registry.example.org]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = load([]string{"--config", file}, nil)
	if want := []string{"registry.example.org"}; err != nil || !slices.Equal(c.DockerHosts(), want) {
		t.Errorf("file: %v, %v", c.DockerHosts(), err)
	}
	for _, bad := range []string{"https://registry.example.com", "registry.example.com/v2", "reg istry", "host:port", "-x.example.com", "a..b"} {
		_, err := load([]string{"--registry-hosts", bad}, nil)
		if err == nil || !strings.Contains(err.Error(), "--registry-hosts") || !strings.Contains(err.Error(), "HOST:PORT") {
			t.Errorf("--registry-hosts %q: %v, want an error that says the form", bad, err)
		}
	}
}
