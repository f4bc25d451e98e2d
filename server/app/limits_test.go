package app_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
)

// served is app.Serve running in the background for a test.
type served struct {
	Addr string // the public address
	Logs *testutil.LockedBuffer
	// Stop cancels Serve and waits for it to return; it runs again, doing
	// nothing, when the test ends.
	Stop func()
}

// serveConfig runs app.Serve with c until Stop or the end of the test.
func serveConfig(t *testing.T, c config.Config) *served {
	t.Helper()
	s := &served{Logs: &testutil.LockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, c, slog.New(slog.NewTextHandler(s.Logs, nil)), func(a net.Addr) { addrc <- a })
	}()
	var once sync.Once
	s.Stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Serve did not stop within 10 s")
			}
			if t.Failed() {
				t.Logf("server log:\n%s", s.Logs)
			}
		})
	}
	t.Cleanup(s.Stop)
	select {
	case a := <-addrc:
		s.Addr = a.String()
	case err := <-done:
		t.Fatalf("Serve returned early: %v\n%s", err, s.Logs)
	case <-time.After(20 * time.Second):
		t.Fatal("Serve not ready after 20 s")
	}
	return s
}

// serveForTest runs app.Serve on a fresh data directory and returns its
// public address; the server stops when the test ends.
func serveForTest(t *testing.T) string { return serveConfig(t, testConfig(t)).Addr }

// rawStatus sends a raw HTTP/1.1 request and returns the status code.
func rawStatus(t *testing.T, addr, request string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// The server may answer and close before it has read everything:
	// write on the side and read the answer.
	go conn.Write([]byte(request))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHeaderLimits: the public listener (the real Serve) takes 16 KiB of
// request headers and answers 431 to more, whatever carries the bytes:
// one big header, many small ones, a long URL, or an oversized
// Authorization header that must not reach the password check. (net/http
// allows 4 KiB of slack over MaxHeaderBytes, so the refusals are tested at
// 24 KiB and more.)
func TestHeaderLimits(t *testing.T) {
	addr := serveForTest(t)
	req := func(target string, headers ...string) string {
		return fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n", target, addr, strings.Join(headers, ""))
	}
	many := func(n, size int) []string {
		var h []string
		for i := range n {
			h = append(h, fmt.Sprintf("X-Pad-%d: %s\r\n", i, strings.Repeat("p", size)))
		}
		return h
	}
	for _, c := range []struct {
		name    string
		request string
		want    int
	}{
		{"8 KiB header", req("/healthz", "X-Pad: "+strings.Repeat("p", 8<<10)+"\r\n"), http.StatusOK},
		{"12 KiB in small headers", req("/healthz", many(12, 1000)...), http.StatusOK},
		{"24 KiB header", req("/healthz", "X-Pad: "+strings.Repeat("p", 24<<10)+"\r\n"), http.StatusRequestHeaderFieldsTooLarge},
		{"1 MiB header", req("/healthz", "X-Pad: "+strings.Repeat("p", 1<<20)+"\r\n"), http.StatusRequestHeaderFieldsTooLarge},
		{"32 KiB in small headers", req("/healthz", many(32, 1000)...), http.StatusRequestHeaderFieldsTooLarge},
		{"24 KiB URL", req("/healthz?" + strings.Repeat("q", 24<<10)), http.StatusRequestHeaderFieldsTooLarge},
		{"24 KiB Authorization", req("/api/v1/tokens", "Authorization: Basic "+strings.Repeat("QUFB", 6<<10)+"\r\n"), http.StatusRequestHeaderFieldsTooLarge},
		{"24 KiB Portus-Auth", req("/v2/token?service=registry", "Portus-Auth: alice:ptk_"+strings.Repeat("A", 24<<10)+"\r\n"), http.StatusRequestHeaderFieldsTooLarge},
	} {
		if got := rawStatus(t, addr, c.request); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// The server is unharmed.
	if got := rawStatus(t, addr, req("/healthz")); got != http.StatusOK {
		t.Errorf("healthz after the oversized requests: %d", got)
	}
}
