package credhelper

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/registryurl"
)

// checkRealm is the control against a malicious registry, applied before a
// password is sent to a Portus server found by discovery: a registry names
// its token server in its WWW-Authenticate realm, and could name anyone's.
//
//   - When the realm's host name differs from the registry's (ports are not
//     compared), stderr says which host receives the password, always.
//   - With "strict": true, the password is sent only when the realm's host
//     name equals the registry's, or when both have the same parent domain
//     (see sameParent); otherwise checkRealm refuses, and nothing is sent.
//
// A Portus server configured for the registry ("portus" in the
// configuration file) is trusted as it is and does not come here.
func (h *Helper) checkRealm(cfg *config.Config, key, portus string) error {
	u, err := url.Parse(portus)
	if err != nil { // Discover returns only URLs it has parsed
		return fmt.Errorf("the token server %q named by %s: %w", portus, key, err)
	}
	registryHost, realmHost := registryurl.Hostname(key), registryurl.Hostname(u.Host)
	if realmHost == registryHost {
		return nil
	}
	if cfg.Strict && !sameParent(registryHost, realmHost) {
		return fmt.Errorf("refusing to send your password to %s, the token server named by %s: with \"strict\": true in %s the password goes only to a token server on the registry's own host or on a host with the same parent domain, unless one is configured for the registry; if %s is the right Portus server, set it as \"portus\" for %s there. Nothing was sent or stored",
			u.Host, key, cfg.Path, portus, key)
	}
	h.notify("sending your password to %s, the token server named by %s (set \"portus\" for %s in %s to pin the server it may go to)",
		u.Host, key, key, cfg.Path)
	return nil
}

// sameParent reports whether the host names a and b (lower-case, without
// port) are the same after dropping the first label of each, and that parent
// domain still has at least two labels: "registry.example.com" and
// "portus.example.com" share "example.com"; "auth.registry.example.com" and
// "registry.example.com" do not, nor do "example.com" and "evil.com" (their
// parent "com" is a single label). IP addresses and single-label names have
// no parent. No public-suffix list is consulted: hosts directly under a
// two-label public suffix ("example.co.uk" and "evil.co.uk") count as
// sharing a parent, so configure "portus" for such a registry.
func sameParent(a, b string) bool {
	pa := parentDomain(a)
	return pa != "" && pa == parentDomain(b)
}

// parentDomain is host without its first label, or "" when host is an IP
// address or what remains would have fewer than two labels.
func parentDomain(host string) string {
	if net.ParseIP(host) != nil {
		return ""
	}
	_, parent, ok := strings.Cut(host, ".")
	if !ok || !strings.Contains(strings.Trim(parent, "."), ".") {
		return ""
	}
	return parent
}
