package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
)

func serial(r *certReloader) int64 {
	c, _ := r.GetCertificate(nil)
	return c.Leaf.SerialNumber.Int64()
}

// The files changing is enough: certbot renews without signalling us.
// A bad pair is logged and the one loaded before stays in use.
func TestCertReloaderFollowsTheFiles(t *testing.T) {
	old := certPollInterval
	certPollInterval = 20 * time.Millisecond
	t.Cleanup(func() { certPollInterval = old })
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := testutil.NewCA(t)
	ca.Issue(t, 1, certFile, keyFile)
	var log testutil.LockedBuffer
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.watch(ctx, nil) }()
	defer func() { cancel(); <-done }()
	// Make sure the new files' times differ from the old ones'.
	future := time.Now().Add(time.Minute)
	ca.Issue(t, 2, certFile, keyFile)
	os.Chtimes(certFile, future, future)
	waitUntil(t, func() bool { return serial(r) == 2 }, "the renewed certificate to be loaded")

	// A certificate whose key is another one's: refused, serial 2 stays.
	keyPEM, _ := os.ReadFile(keyFile)
	ca.Issue(t, 3, certFile, keyFile)
	testutil.ReplaceFile(t, keyFile, keyPEM)
	os.Chtimes(keyFile, future.Add(time.Minute), future.Add(time.Minute))
	waitUntil(t, func() bool { return strings.Contains(log.String(), "was not loaded") }, "the bad pair to be logged")
	if got := serial(r); got != 2 {
		t.Fatalf("serving serial %d after a bad pair, want 2", got)
	}
	if !strings.Contains(log.String(), "private key does not match public key") {
		t.Errorf("the log does not say why the pair was refused:\n%s", log.String())
	}
	// Logged once, not at every poll.
	time.Sleep(10 * certPollInterval)
	if n := strings.Count(log.String(), "was not loaded"); n != 1 {
		t.Errorf("the bad pair was logged %d times, want once", n)
	}
}

func TestCertReloaderNeedsAPairThatLoads(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	_, err := newCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), certFile) {
		t.Fatalf("newCertReloader of garbage: %v, want an error naming %s", err, certFile)
	}
	if r, err := newCertReloader("", "", nil); r != nil || err != nil {
		t.Fatalf("no certificate: %v, %v; want nil, nil", r, err)
	}
}

func waitUntil(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
