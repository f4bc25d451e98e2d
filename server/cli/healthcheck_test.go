package cli

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/config"
)

func TestHealthURL(t *testing.T) {
	for _, c := range []struct {
		listen, cert, want string
	}{
		{"localhost:3000", "", "http://localhost:3000/healthz"},
		{"0.0.0.0:3000", "", "http://127.0.0.1:3000/healthz"},
		{":3000", "", "http://127.0.0.1:3000/healthz"},
		{"[::]:3000", "", "http://[::1]:3000/healthz"},
		{"192.0.2.7:8443", "/etc/portus/cert.pem", "https://192.0.2.7:8443/healthz"},
	} {
		got, err := healthURL(config.Config{Listen: c.listen, TLSCert: c.cert})
		if err != nil || got != c.want {
			t.Errorf("healthURL(%q, tls %t) = %q, %v; want %q", c.listen, c.cert != "", got, err, c.want)
		}
	}
	if _, err := healthURL(config.Config{Listen: "localhost"}); err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
		t.Errorf("healthURL without a port: %v", err)
	}
}

// TestHealthcheck runs the command against a listener answering 200, one
// answering 503, one over TLS and an address where nothing listens.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	secure := httptest.NewTLSServer(handler)
	defer secure.Close()
	// A file only has to exist for the flag: the check itself never reads it.
	cert := filepath.Join(t.TempDir(), "cert.pem")
	os.WriteFile(cert, nil, 0o600)

	run := func(env map[string]string, args ...string) (string, int) {
		var stdout, stderr bytes.Buffer
		code := Main(Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
			Getenv: func(k string) string { return env[k] }}, append([]string{"healthcheck"}, args...))
		return stdout.String() + stderr.String(), code
	}
	addr := func(s *httptest.Server) string { return s.Listener.Addr().String() }

	if out, code := run(nil, "--listen", addr(plain)); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("healthy server: exit %d, %q", code, out)
	}
	// From the environment, as the container sets it.
	if out, code := run(map[string]string{"PORTUS_LISTEN": addr(plain)}); code != 0 {
		t.Errorf("PORTUS_LISTEN: exit %d, %q", code, out)
	}
	if out, code := run(nil, "--listen", addr(secure), "--tls-cert", cert, "--tls-key", cert); code != 0 {
		t.Errorf("TLS server: exit %d, %q", code, out)
	}
	status = http.StatusServiceUnavailable
	if out, code := run(nil, "--listen", addr(plain)); code != 1 || !strings.Contains(out, "503") {
		t.Errorf("unhealthy server: exit %d, %q; want 1 naming the status", code, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().String()
	l.Close()
	if out, code := run(nil, "--listen", free); code != 1 || !strings.Contains(out, "does not answer") {
		t.Errorf("no server: exit %d, %q", code, out)
	}
	if _, code := run(nil, "extra"); code != 2 {
		t.Errorf("an extra argument: exit %d, want 2", code)
	}
}
