package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
)

// certStream requests /healthz over and over until ctx ends, on one
// client, and records the serial number of the certificate each answer
// came over and every failure.
type certStream struct {
	client   *http.Client
	url      string
	serial   atomic.Int64
	requests atomic.Int64
	mu       sync.Mutex
	failures []string
}

func (s *certStream) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	for ctx.Err() == nil {
		resp, err := s.client.Get(s.url)
		if err == nil {
			// Read to the end, or the connection is not reused.
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			s.serial.Store(resp.TLS.PeerCertificates[0].SerialNumber.Int64())
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		s.requests.Add(1)
		if err != nil {
			s.mu.Lock()
			s.failures = append(s.failures, err.Error())
			s.mu.Unlock()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTLSReloadOnSIGHUP renews the certificate of a running portus serve
// as certbot would and sends SIGHUP (systemctl reload): new handshakes
// get the new certificate, a keep-alive connection opened before goes on,
// and no request of either stream fails. A bad pair changes nothing.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	ca := testutil.NewCA(t)
	ca.Issue(t, 1, certFile, keyFile)
	port := testutil.Port(t)
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	var log testutil.LockedBuffer
	proc, err := testutil.Start(exec.Command(bin.portus, "serve", "--data", filepath.Join(dir, "data"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--url", url, "--tls-cert", certFile, "--tls-key", keyFile), &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := proc.Stop(20 * time.Second); err != nil {
			t.Errorf("portus serve: %v", err)
		}
		if t.Failed() {
			t.Logf("portus serve log:\n%s", log.String())
		}
	})
	tlsConfig := &tls.Config{RootCAs: ca.Pool}
	keepAlive := &certStream{url: url + "/healthz", client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 1}}}
	fresh := &certStream{url: url + "/healthz", client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true}}}
	waitFor(t, proc.Done(), func() bool {
		resp, err := fresh.client.Get(fresh.url)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, "portus serve over HTTPS")

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go keepAlive.run(ctx, &wg)
	go fresh.run(ctx, &wg)
	defer func() { stop(); wg.Wait() }()
	waitFor(t, proc.Done(), func() bool { return keepAlive.serial.Load() == 1 && fresh.serial.Load() == 1 }, "both streams")

	ca.Issue(t, 2, certFile, keyFile)
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, proc.Done(), func() bool { return fresh.serial.Load() == 2 }, "a new handshake to see the renewed certificate")
	before := keepAlive.requests.Load()
	waitFor(t, proc.Done(), func() bool { return keepAlive.requests.Load() > before+20 }, "more keep-alive requests")
	if got := keepAlive.serial.Load(); got != 1 {
		t.Errorf("the keep-alive connection now shows serial %d: it was dropped and made again", got)
	}

	// A broken renewal: a certificate without its key. Serial 2 stays.
	testutil.ReplaceFile(t, certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, proc.Done(), func() bool { return strings.Contains(log.String(), "was not loaded") }, "the bad pair to be logged")
	before = fresh.requests.Load()
	waitFor(t, proc.Done(), func() bool { return fresh.requests.Load() > before+10 }, "more new connections")
	stop()
	wg.Wait()
	if got := fresh.serial.Load(); got != 2 {
		t.Errorf("after a bad pair new connections show serial %d, want 2", got)
	}
	for _, s := range []*certStream{keepAlive, fresh} {
		if len(s.failures) > 0 {
			t.Errorf("%d of %d requests failed, first: %s", len(s.failures), s.requests.Load(), s.failures[0])
		}
	}
	t.Logf("requests: %d on one keep-alive connection, %d on new connections", keepAlive.requests.Load(), fresh.requests.Load())
}
