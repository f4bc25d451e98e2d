package main_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/shared/apitypes"
)

// TestStoreLocalhostRealmNotThroughProxy is the original attack of issue
// 13, hole 4: a registry names http://portus.localhost:PORT as its realm
// and HTTP_PROXY is set. store must not hand the password to the proxy:
// it either refuses (portus.localhost does not resolve to this machine)
// or goes straight to the Portus server (it does, where *.localhost
// resolves to loopback).
func TestStoreLocalhostRealmNotThroughProxy(t *testing.T) {
	w := newWorld(t)
	var (
		mu   sync.Mutex
		seen []string
	)
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s auth=%t", r.Method, r.URL, r.Header.Get("Authorization") != ""))
		mu.Unlock()
		http.Error(rw, "proxy says no", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	for _, k := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		w.env[k] = proxy.URL
	}
	w.env["NO_PROXY"], w.env["no_proxy"] = "", ""

	u, err := url.Parse(w.portus.Portus.URL)
	if err != nil {
		t.Fatal(err)
	}
	registry := fakeportus.Registry(t, http.StatusUnauthorized,
		fmt.Sprintf(`Bearer realm="http://portus.localhost:%s%s",service="registry"`, u.Port(), apitypes.RegistryTokenPath))

	r := w.timed(t, "store", storeInput(registry, "alice", password))
	noSecret(t, r)
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.Contains(s, "portus.localhost") || strings.HasSuffix(s, "auth=true") {
			t.Errorf("the proxy received %s", s)
		}
	}
	switch {
	case r.Code == 0 && len(w.portus.Tokens("alice")) == 1:
		// *.localhost resolves to loopback here: the login went direct.
	case r.Code != 0 && strings.Contains(r.Stdout, "use an https URL") && strings.Contains(r.Stdout, "a realm on this machine"):
		if n := len(w.portus.Tokens("alice")); n != 0 {
			t.Errorf("refused, yet the server holds %d tokens", n)
		}
	default:
		t.Errorf("store: %v; want a refusal saying what to do, or a direct login", r)
	}
}
