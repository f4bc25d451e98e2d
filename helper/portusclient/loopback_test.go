package portusclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/shared/apitypes"
)

// fakeProxy is an HTTP proxy that records what reaches it and forwards
// nothing.
type fakeProxy struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []string // "METHOD URL", with "+auth" when Authorization was sent
}

// leaks are the requests p received that carried credentials or were
// plain http (anything but the CONNECT of an https request, which the
// test's Options.Proxy sends here even for https://localhost, unlike
// HTTPS_PROXY).
func (p *fakeProxy) leaks() []string {
	var out []string
	for _, r := range p.seen() {
		if strings.HasSuffix(r, " +auth") || !strings.HasPrefix(r, "CONNECT ") {
			out = append(out, r)
		}
	}
	return out
}

func newFakeProxy(t *testing.T) *fakeProxy {
	p := &fakeProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		line := r.Method + " " + r.URL.String()
		if r.Header.Get("Authorization") != "" || r.Header.Get("Proxy-Authorization") != "" {
			line += " +auth"
		}
		p.requests = append(p.requests, line)
		http.Error(w, "proxy says no", http.StatusBadGateway)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// proxy is an Options.Proxy sending every request to p, like HTTP_PROXY
// and HTTPS_PROXY with an empty NO_PROXY.
func (p *fakeProxy) proxy(*http.Request) (*url.URL, error) { return url.Parse(p.srv.URL) }

func (p *fakeProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// fakeResolver answers from a table; other names do not exist.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ips, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range ips {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

// port is the port of an httptest URL.
func port(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// localhostRealm starts a registry whose realm is http://NAME:PORT/v2/token,
// PORT being the fake Portus server's, and returns the registry's address.
func localhostRealm(t *testing.T, s *fakeportus.Server, name string) string {
	challenge := fmt.Sprintf(`Bearer realm="http://%s:%s%s",service="registry"`, name, port(t, s.Portus.URL), apitypes.RegistryTokenPath)
	return fakeportus.Registry(t, http.StatusUnauthorized, challenge)
}

// The original attack: a registry names http://portus.localhost:PORT as
// its realm while HTTP_PROXY is set. The password must never reach the
// proxy: with portus.localhost resolving to nothing it is refused, with it
// resolving to loopback it goes straight to the server.
func TestLocalhostRealmBypassesProxy(t *testing.T) {
	s := newFake(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		resolver fakeResolver
		wantErr  bool
	}{
		{"unresolved", fakeResolver{"localhost": {"127.0.0.1"}}, true},
		{"loopback", fakeResolver{"localhost": {"127.0.0.1"}, "portus.localhost": {"::ffff:127.0.0.1"}}, false},
		{"mixed", fakeResolver{"localhost": {"127.0.0.1"}, "portus.localhost": {"127.0.0.1", "192.0.2.7"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFakeProxy(t)
			opts := Options{Proxy: p.proxy, Resolver: tc.resolver}
			registry := localhostRealm(t, s, "portus.localhost")
			portus, err := Discover(ctx, registry, opts)
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			_, err = newClient(t, portus, opts).CreateToken(ctx, "alice", password, helperRequest())
			checkNoSecret(t, err)
			if tc.wantErr {
				if !errors.Is(err, ErrInsecure) || !errors.Is(err, ErrNotLoopback) ||
					!strings.Contains(err.Error(), "use an https URL") || !strings.Contains(err.Error(), "a realm on this machine") {
					t.Fatalf("CreateToken error %v; want ErrInsecure saying what to do", err)
				}
			} else if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			if leaks := p.leaks(); len(leaks) != 0 {
				t.Fatalf("the proxy received %q", leaks)
			}
		})
	}
}

// A loopback name that resolves off the machine gets no plain-http request
// at all: no connection is made to the address.
func TestLocalhostNameOffMachineRefused(t *testing.T) {
	hit := make(chan struct{}, 1)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit <- struct{}{} }))
	t.Cleanup(elsewhere.Close)
	// 127.0.0.1 stands in for another machine here: the test resolver
	// answers 192.0.2.10, which must be refused before any dial.
	p := newFakeProxy(t)
	opts := Options{Proxy: p.proxy, Resolver: fakeResolver{"evil.localhost": {"192.0.2.10"}}}
	c := newClient(t, "http://evil.localhost:"+port(t, elsewhere.URL), opts)
	_, err := c.CreateToken(context.Background(), "alice", password, helperRequest())
	checkNoSecret(t, err)
	if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "192.0.2.10") {
		t.Fatalf("CreateToken error %v; want ErrInsecure naming 192.0.2.10", err)
	}
	select {
	case <-hit:
		t.Fatal("a request reached the server")
	default:
	}
	if seen := p.seen(); len(seen) != 0 {
		t.Fatalf("the proxy received %q", seen)
	}
}

// localhost and 127.0.0.1 realms keep working with a proxy set, and reach
// the server directly.
func TestLoopbackRealmDirectWithProxy(t *testing.T) {
	s := newFake(t)
	ctx := context.Background()
	for _, name := range []string{"localhost", "127.0.0.1"} {
		t.Run(name, func(t *testing.T) {
			p := newFakeProxy(t)
			opts := Options{Proxy: p.proxy}
			portus, err := Discover(ctx, localhostRealm(t, s, name), opts)
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			c := newClient(t, portus, opts)
			created, err := c.CreateToken(ctx, "alice", password, helperRequest())
			if err != nil {
				t.Fatalf("CreateToken: %v", err)
			}
			if _, err := c.RevokeCurrent(ctx, "alice", created.Token); err != nil {
				t.Fatalf("RevokeCurrent: %v", err)
			}
			if leaks := p.leaks(); len(leaks) != 0 {
				t.Fatalf("the proxy received %q", leaks)
			}
		})
	}
}

// https keeps using the proxy settings.
func TestHTTPSUsesProxy(t *testing.T) {
	p := newFakeProxy(t)
	c := newClient(t, "https://portus.example.com", Options{Proxy: p.proxy})
	_, err := c.CreateToken(context.Background(), "alice", password, helperRequest())
	checkNoSecret(t, err)
	if err == nil {
		t.Fatal("CreateToken through a refusing proxy succeeded")
	}
	if seen := p.seen(); len(seen) != 1 || !strings.HasPrefix(seen[0], "CONNECT ") || !strings.HasSuffix(seen[0], "portus.example.com:443") {
		t.Fatalf("the proxy received %q; want one CONNECT portus.example.com:443", seen)
	}
}
