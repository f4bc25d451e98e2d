package app_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
)

const metricsToken = "metrics-token-0123456789abcdef"

// writeMetricsToken writes the token file as an operator would, with a
// trailing newline.
func writeMetricsToken(t *testing.T, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "metrics-token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func bearer(token string) testserver.Opt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func TestMetricsToken(t *testing.T) {
	file := writeMetricsToken(t, metricsToken)
	s := testserver.Start(t, testserver.Options{Configure: func(c *config.Config) { c.Metrics.TokenFile = file }})
	for name, opt := range map[string]testserver.Opt{
		"no Authorization": func(*http.Request) {},
		"a wrong token":    bearer(metricsToken[:len(metricsToken)-1] + "0"),
		"a longer token":   bearer(metricsToken + "0"),
		"an empty token":   bearer(""),
		"Basic scheme":     testserver.Basic("metrics", metricsToken),
		"no scheme":        func(r *http.Request) { r.Header.Set("Authorization", metricsToken) },
	} {
		r := s.Do("GET", "/metrics", nil, opt)
		if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" || strings.Contains(string(r.Body), "portus_") {
			t.Errorf("%s: %.120s, want 401 with a challenge and no metrics", name, r)
		}
	}
	r := s.Expect(http.StatusOK, "GET", "/metrics", nil, bearer(metricsToken))
	if !strings.Contains(string(r.Body), "portus_http_requests_total") {
		t.Errorf("/metrics with the token: %.200s", r.Body)
	}
	s.Expect(http.StatusOK, "GET", "/metrics", nil, func(r *http.Request) { r.Header.Set("Authorization", "bearer "+metricsToken) })
	s.Expect(http.StatusOK, "GET", "/healthz", nil) // nothing else needs the token
}

func TestMetricsTokenFileRefused(t *testing.T) {
	for name, path := range map[string]string{
		"missing": filepath.Join(t.TempDir(), "none"),
		"short":   writeMetricsToken(t, "secret"),
		"blank":   writeMetricsToken(t, "  "),
	} {
		c := testConfig(t)
		c.Metrics.TokenFile = path
		core, err := app.OpenCore(c, cheap)
		if err != nil {
			t.Fatal(err)
		}
		_, err = app.PublicHandler(core, slog.New(slog.DiscardHandler))
		core.Close()
		if err == nil || !strings.Contains(err.Error(), "metrics token") {
			t.Errorf("%s token file: %v, want an error about the metrics token", name, err)
		}
	}
}

// TestMetricsListen runs the real server with metrics.listen (and a
// token): /metrics moves to its own address, and the main port 404s it.
func TestMetricsListen(t *testing.T) {
	c := testConfig(t)
	c.Metrics.Listen = "127.0.0.1:0"
	c.Metrics.TokenFile = writeMetricsToken(t, metricsToken)
	srv := serveConfig(t, c)
	m := regexp.MustCompile(`serving /metrics on its own address" addr=(\S+)`).FindStringSubmatch(srv.Logs.String())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", srv.Logs)
	}
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	main, metrics := "http://"+srv.Addr, "http://"+m[1]
	if code, body := get(main+"/metrics", metricsToken); code != http.StatusNotFound || strings.Contains(body, "portus_") {
		t.Errorf("main listener /metrics: %d %.100s, want 404", code, body)
	}
	if code, _ := get(main+"/healthz", ""); code != http.StatusOK {
		t.Errorf("main listener /healthz: %d", code)
	}
	if code, _ := get(metrics+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("metrics listener without the token: %d, want 401", code)
	}
	if code, _ := get(metrics+"/metrics", "wrong-"+metricsToken); code != http.StatusUnauthorized {
		t.Errorf("metrics listener with a wrong token: %d, want 401", code)
	}
	if code, body := get(metrics+"/metrics", metricsToken); code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics listener with the token: %d %.100s", code, body)
	}
	if code, _ := get(metrics+"/api/v1/tokens", ""); code != http.StatusNotFound {
		t.Errorf("metrics listener /api/v1/tokens: %d, want 404 (it serves only /metrics)", code)
	}
	http.DefaultClient.CloseIdleConnections()
	srv.Stop()
	if conn, err := net.Dial("tcp", m[1]); err == nil {
		conn.Close()
		t.Error("the metrics listener still accepts connections after shutdown")
	}
}

// TestMetricsListenPublicHandler: the handler the tests serve drops
// /metrics too when it has its own address.
func TestMetricsListenPublicHandler(t *testing.T) {
	s := testserver.Start(t, testserver.Options{Configure: func(c *config.Config) { c.Metrics.Listen = "127.0.0.1:0" }})
	s.Expect(http.StatusNotFound, "GET", "/metrics", nil)
}
