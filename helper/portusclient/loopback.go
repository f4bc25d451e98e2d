package portusclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/portusproject/portus/helper/registryurl"
)

// Resolver looks up the addresses of a host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ErrNotLoopback is wrapped by the error of a plain-http request to a
// loopback name ("localhost", "*.localhost") that does not resolve to
// this machine only.
var ErrNotLoopback = errors.New("plain-http host does not resolve to this machine")

// splitTransport is the one place where the helper decides how a request
// leaves the machine. A plain-http request to a loopback name or address
// (see registryurl.IsLoopback) is the only plain http the helper sends on
// its own (Discover's fallback, a realm it accepted), and may carry a
// password: it goes through loopback, which uses no proxy whatever
// HTTP_PROXY says and connects only to loopback addresses, the very ones
// it checked. A name under ".localhost" is just a DNS name, so the name
// alone proves nothing. Everything else (https, and plain http to a
// "portus" the user configured) goes through proxied, with the proxy
// settings as before.
type splitTransport struct {
	proxied  *http.Transport
	loopback *http.Transport
}

func (t *splitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && registryurl.IsLoopback(req.URL.Host) {
		return t.loopback.RoundTrip(req)
	}
	return t.proxied.RoundTrip(req)
}

// newSplitTransport builds both transports from base (already carrying
// the TLS settings and timeouts); timeout bounds a loopback connection,
// proxy nil means http.ProxyFromEnvironment, resolver nil net.DefaultResolver.
func newSplitTransport(base *http.Transport, timeout time.Duration, proxy func(*http.Request) (*url.URL, error), resolver Resolver) *splitTransport {
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	proxied := base.Clone()
	proxied.Proxy = proxy
	loopback := base.Clone()
	loopback.Proxy = nil
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	loopback.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialLoopback(ctx, dialer, resolver, network, addr)
	}
	return &splitTransport{proxied: proxied, loopback: loopback}
}

// dialLoopback resolves addr's host, refuses unless every address is a
// loopback one, and dials those addresses, never the name again: a second
// DNS answer cannot send the connection elsewhere.
func dialLoopback(ctx context.Context, dialer *net.Dialer, resolver Resolver, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := loopbackAddrs(ctx, resolver, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, ip := range addrs {
		conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// loopbackAddrs are host's addresses when all of them are loopback ones.
func loopbackAddrs(ctx context.Context, resolver Resolver, host string) ([]netip.Addr, error) {
	host = strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().IsLoopback() {
			return nil, fmt.Errorf("%w: %s", ErrNotLoopback, ip)
		}
		return []netip.Addr{ip}, nil
	}
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("%w: looking up %s: %w", ErrNotLoopback, host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %s has no address", ErrNotLoopback, host)
	}
	for i, ip := range addrs {
		ip = ip.Unmap()
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrNotLoopback, host, ip)
		}
		addrs[i] = ip
	}
	return addrs, nil
}
