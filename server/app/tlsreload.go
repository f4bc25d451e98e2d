package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// certPollInterval is how often the certificate files are checked for a
// change: certbot renews them in place and need not signal us.
var certPollInterval = 5 * time.Second

// certReloader serves --tls-cert/--tls-key through tls.Config's
// GetCertificate, so that a renewed pair is used by the next handshake
// while connections already open keep going. A pair that does not load
// keeps the one in use and is logged.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	cert              atomic.Pointer[tls.Certificate]
	// stamp is the files' state at the last load attempt, good or not:
	// a bad pair is retried once the files change again, not every poll.
	stamp string
}

// newCertReloader loads the pair; an error here stops the server, as a
// pair that never loaded has nothing to fall back on. Without a
// certificate (plain HTTP) it returns nil.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	if certFile == "" {
		return nil, nil
	}
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	r.stamp = r.fileStamp()
	cert, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert.Store(cert)
	return r, nil
}

func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parsing the TLS certificate %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

// GetCertificate is the tls.Config hook: the pair loaded last.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// fileStamp sums up what a renewal changes: both files' times and sizes
// (os.Stat follows certbot's symbolic links to the new files).
func (r *certReloader) fileStamp() string {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		} else {
			s += "missing;"
		}
	}
	return s
}

// reload loads the pair again and reports whether it is now in use.
func (r *certReloader) reload(why string) bool {
	r.stamp = r.fileStamp()
	cert, err := loadPair(r.certFile, r.keyFile)
	if err != nil {
		old := r.cert.Load().Leaf
		r.log.Warn("the new TLS certificate was not loaded; serving the one loaded before", "why", why,
			"err", err, "serving_not_after", old.NotAfter.UTC().Format(time.RFC3339))
		return false
	}
	r.cert.Store(cert)
	r.log.Info("TLS certificate loaded", "why", why, "cert", r.certFile, "subject", cert.Leaf.Subject.String(),
		"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return true
}

// watch reloads on SIGHUP and when the files change, until ctx ends.
func (r *certReloader) watch(ctx context.Context, hup <-chan os.Signal) {
	tick := time.NewTicker(certPollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload("SIGHUP")
		case <-tick.C:
			if r.fileStamp() != r.stamp {
				r.reload("the files changed")
			}
		}
	}
}

// handleReloads turns SIGHUP (systemctl reload) into a certificate reload
// while the server runs; without TLS it is logged and ignored rather than
// ending the process, Go's default. The returned function stops it.
func handleReloads(ctx context.Context, certs *certReloader, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if certs != nil {
			certs.watch(ctx, hup)
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: nothing to reload (no --tls-cert)")
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
