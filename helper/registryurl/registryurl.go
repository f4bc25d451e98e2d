// Package registryurl owns the one way the credential helper names a
// registry: the key under which its credentials are kept.
//
// Docker hands the helper server addresses in many spellings for the same
// registry ("Registry.Example.com", "https://registry.example.com/v2/",
// "http://registry.example.com"; docker logout tries four of them). Normalize
// maps them all to one key, so that "erase https://host" finds what
// "store host" wrote:
//
//   - the scheme, user information, path, query and fragment are dropped;
//   - the host is lower-cased; a port is kept as given (host:443 and host
//     are different registries for Docker too);
//   - Docker Hub's aliases (index.docker.io, docker.io, registry-1.docker.io,
//     with or without scheme and path) become DockerHub,
//     "https://index.docker.io/v1/", the key the docker CLI itself uses.
package registryurl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DockerHub is the key of Docker Hub, exactly as the docker CLI spells it.
const DockerHub = "https://index.docker.io/v1/"

// dockerHubHosts are the host names that all mean Docker Hub.
var dockerHubHosts = map[string]bool{
	"index.docker.io":      true,
	"docker.io":            true,
	"registry-1.docker.io": true,
}

// ErrInvalid is wrapped by every error Normalize returns.
var ErrInvalid = errors.New("invalid registry address")

// Normalize returns the key of the registry that serverURL names: a
// lower-case host with its port if it has one ("registry.example.com",
// "localhost:5000", "[::1]:5000"), or DockerHub. It fails, wrapping
// ErrInvalid, for an empty address, a scheme other than http or https, or a
// host that is not a host name or IP address.
//
// The error never repeats user information found in serverURL.
func Normalize(serverURL string) (string, error) {
	s := strings.TrimSpace(serverURL)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	}
	if !strings.Contains(s, "://") {
		s = "//" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse quotes its input, which might hold user:password.
		return "", fmt.Errorf("%w: cannot be parsed as a URL", ErrInvalid)
	}
	switch strings.ToLower(u.Scheme) {
	case "", "http", "https":
	default:
		return "", fmt.Errorf("%w: scheme %q is not http or https", ErrInvalid, u.Scheme)
	}
	host := strings.ToLower(u.Host)
	if host == "" {
		return "", fmt.Errorf("%w: no host", ErrInvalid)
	}
	name, port := splitHostPort(host)
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%w: bad port in %q", ErrInvalid, host)
		}
	}
	if !validHostName(name) {
		return "", fmt.Errorf("%w: bad host %q", ErrInvalid, host)
	}
	if dockerHubHosts[name] && (port == "" || port == "443") {
		return DockerHub, nil
	}
	return host, nil
}

// IsDockerHub reports whether key (a result of Normalize) is Docker Hub.
func IsDockerHub(key string) bool { return key == DockerHub }

// IsLoopback reports whether host (a host name or IP address, with or without
// a port) names this machine: "localhost", a name under ".localhost", or a
// loopback IP address (127.0.0.0/8, ::1). Docker treats such registries as
// insecure registries that may be reached over plain HTTP; so does the helper.
//
// It looks at the name only, and a name under ".localhost" is an ordinary
// DNS name that may point anywhere: the helper's HTTP client
// (portusclient) resolves such a host before any plain-http request,
// refuses it unless every address is loopback, and dials the checked
// address without a proxy.
func IsLoopback(host string) bool {
	name, _ := splitHostPort(strings.ToLower(host))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(name, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Hostname returns the host name in host ("host", "host:port", "[v6]:port",
// a key from Normalize or a URL's Host): lower-case, without the port, the
// brackets of an IPv6 address or a trailing dot. Docker Hub's key gives
// "index.docker.io".
func Hostname(host string) string {
	if IsDockerHub(host) {
		return "index.docker.io"
	}
	name, _ := splitHostPort(strings.ToLower(host))
	name = strings.TrimPrefix(name, "[")
	name = strings.TrimSuffix(name, "]")
	return strings.TrimSuffix(name, ".")
}

// splitHostPort splits "host:port", "[v6]:port", "host" and "[v6]" without
// failing on a missing port, unlike net.SplitHostPort. An IPv6 address keeps
// its brackets.
func splitHostPort(host string) (name, port string) {
	if strings.HasPrefix(host, "[") {
		end := strings.Index(host, "]")
		if end < 0 {
			return host, ""
		}
		name, rest := host[:end+1], host[end+1:]
		if strings.HasPrefix(rest, ":") {
			return name, rest[1:]
		}
		return name, rest
	}
	if i := strings.LastIndex(host, ":"); i >= 0 {
		return host[:i], host[i+1:]
	}
	return host, ""
}

// validHostName accepts DNS names (letters, digits, '-', '_', '.') and IP
// addresses, IPv6 ones in brackets.
func validHostName(name string) bool {
	if strings.HasPrefix(name, "[") {
		return strings.HasSuffix(name, "]") && net.ParseIP(name[1:len(name)-1]) != nil
	}
	if name == "" || len(name) > 253 || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}
