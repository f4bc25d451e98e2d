package config

import (
	"flag"
	"fmt"
	"net"
	"strings"
)

// registryHostsFlags registers --registry-hosts: the addresses people type
// after `docker login`, for the web UI's help. It changes no token.
func registryHostsFlags(fs *flag.FlagSet, c *Config) {
	fs.Var(&listValue{&c.RegistryHosts}, "registry-hosts", "`HOST[:PORT]` of a registry this server serves, as users type it after docker login; shown on the profile page (repeatable; default: each --service that is a host name)")
}

// validateRegistryHosts checks that each registry host is a bare host or
// host:port, the form `docker login` takes: no scheme, path or spaces.
func (c *Config) validateRegistryHosts() error {
	for _, h := range c.RegistryHosts {
		if !isHostName(h) {
			return fmt.Errorf("--registry-hosts %q: must be a host name or HOST:PORT such as registry.example.com:5000, without https:// or a path", h)
		}
	}
	return nil
}

// DockerHosts are the registry addresses the web UI shows in `docker
// login` lines: RegistryHosts when set, else the --service names that are
// host names (registries usually announce their own address as the
// service, e.g. registry.example.com:5000; the default "registry" is not
// one). Empty when neither names a host.
func (c Config) DockerHosts() []string {
	if len(c.RegistryHosts) > 0 {
		return c.RegistryHosts
	}
	var hosts []string
	for _, s := range c.Services {
		if isHostName(s) && strings.ContainsAny(s, ".:") {
			hosts = append(hosts, s)
		}
	}
	return hosts
}

// isHostName reports whether s is a host name, IP address or either with
// a port, as `docker login` takes them.
func isHostName(s string) bool {
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return false
		}
		host = h
	}
	if host == "" || len(host) > 253 {
		return false
	}
	if net.ParseIP(host) != nil {
		return true
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		if strings.Trim(strings.ToLower(label), "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return false
		}
	}
	return true
}
