// Package app assembles a running Portus server from its configuration: the
// data directory (database, pepper, signing key), the account service, the
// HTTP surfaces on the public listener, the admin socket, and an orderly
// start and stop. It holds no rules of its own.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/api"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/registryauth"
	"github.com/portusproject/portus/server/web"
)

// shutdownTimeout bounds how long in-flight requests may take to finish.
const shutdownTimeout = 30 * time.Second

// PublicHandler returns the handler of the public listener: health check,
// registry token endpoint, JSON API and the web UI.
func PublicHandler(core *Core, log *slog.Logger) (http.Handler, error) {
	e, err := newEngine(log, core.Config.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxy: %w", err)
	}
	issuer, err := core.Issuer()
	if err != nil {
		return nil, err
	}
	if issuer.Signer.CertificateWritten() {
		// Registries check the x5c certificate against their bundle: until
		// it holds this one, every token is refused.
		log.Warn("wrote a new token-signing certificate: run `portus registry-config` and restart the registry so that it trusts it",
			"key_id", issuer.Signer.KeyID(), "expires", issuer.Signer.CertificateNotAfter().Format(time.DateOnly))
	}
	if issuer.Signer.RenewalDue() {
		// Not swapped: registries would refuse every token until they
		// load a bundle with the renewed certificate.
		log.Warn("the token-signing certificate expires soon and a renewed one is staged: run `portus registry-config`, restart every registry, then `portus signing-key activate` (docs/operators.md \"Rotating the signing key\")",
			"key_id", issuer.Signer.KeyID(), "expires", issuer.Signer.CertificateNotAfter().Format(time.DateOnly))
	}
	policy := registryauth.Policy{
		UserNamespaces:            core.Config.UserNamespaces,
		AuthenticatedPullTopLevel: core.Config.AuthenticatedPull,
		AnonymousPull:             core.Config.AnonymousPull,
	}
	if err := policy.Validate(); err != nil {
		return nil, fmt.Errorf("registry policy: %w", err)
	}
	core.Metrics.Gauges(core.Store.TokenCount, core.Accounts.Throttle().Throttled)
	core.Metrics.ExpiryGauge(core.Accounts.ExpiringSoon)
	e.Use(core.Metrics.Middleware)
	h := &api.Handler{
		Accounts: core.Accounts,
		Sessions: core.Accounts.Sessions(account.SessionLimits{Idle: core.Config.SessionIdle, MaxAge: core.Config.SessionMaxAge}),
		Registry: &api.Registry{Issuer: issuer, Policy: policy, Services: core.Config.Services},
		Log:      log,
		// The device grant's verification_uri.
		PublicURL: core.Config.URL,
	}
	if core.Config.Metrics.Listen == "" { // else Serve gives it its own listener
		if h.Metrics, err = MetricsHandler(core); err != nil {
			return nil, err
		}
	}
	h.Routes(e)
	ui, err := web.New(core.Accounts, core.Config, log)
	if err != nil {
		return nil, err
	}
	ui.Routes(e)
	ui.Fallbacks(e)
	return e, nil
}

// Serve runs the server until ctx is cancelled, then stops accepting
// requests, lets those in flight finish, writes pending last-used times and
// closes the database. ready, if not nil, is called with the public address
// once both listeners accept connections.
func Serve(ctx context.Context, c config.Config, log *slog.Logger, ready func(addr net.Addr)) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := checkReplicaAlone(c); err != nil {
		return err
	}
	certs, err := newCertReloader(c.TLSCert, c.TLSKey, log)
	if err != nil {
		return err
	}
	core, err := OpenCore(c, account.Options{Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := core.Close(); err != nil {
			log.Error("closing the database", "err", err)
		}
	}()
	public, err := PublicHandler(core, log)
	if err != nil {
		return err
	}
	admin, err := AdminHandler(core, log)
	if err != nil {
		return err
	}
	ln, adminLn, err := listen(c)
	if err != nil {
		return err
	}
	defer os.Remove(c.SocketPath())
	errc := make(chan error, 3)
	metricsSrv, err := startMetrics(core, log, errc)
	if err != nil {
		ln.Close()
		adminLn.Close()
		return err
	}

	stopFlusher := startFlusher(core.Accounts, c.FlushInterval)
	defer startWebhooks(core)()
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	if issuer, err := core.Issuer(); err == nil {
		go followSigningKeys(followCtx, issuer.Live, log)
	}
	publicSrv, adminSrv := newServers(public, admin, log)
	stopReloads := handleReloads(ctx, certs, log)
	defer stopReloads()
	servePublic(publicSrv, ln, certs, errc)
	go func() { errc <- adminSrv.Serve(adminLn) }()

	log.Info("portus is serving", "addr", ln.Addr().String(), "url", c.URL, "data", c.Data, "admin_socket", c.SocketPath(), "tls", c.TLSCert != "")
	if ready != nil {
		ready(ln.Addr())
	}
	serveErr := waitForStop(ctx, errc, log)
	shutErr := shutdown(publicSrv, adminSrv, metricsSrv)
	// After the servers, so that the last requests' last-used times are
	// written too.
	stopFlusher()
	if shutErr != nil {
		log.Error("requests still running at shutdown", "err", shutErr)
	}
	log.Info("stopped")
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// servePublic serves the public listener, over TLS with the reloaded
// certificate when certs is not nil.
func servePublic(srv *http.Server, ln net.Listener, certs *certReloader, errc chan<- error) {
	if certs == nil {
		go func() { errc <- srv.Serve(ln) }()
		return
	}
	srv.TLSConfig = &tls.Config{GetCertificate: certs.GetCertificate}
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
}

// startFlusher writes batched last-used times every interval until the
// returned function is called; that function returns once the final
// write is done.
func startFlusher(accounts *account.Service, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		accounts.RunFlusher(ctx, interval)
	}()
	return func() {
		cancel()
		<-done
	}
}

// checkReplicaAlone refuses a second replica on one data directory. No
// database lock guards the data directory of a replica: an admin socket
// that answers belongs to another one using it.
func checkReplicaAlone(c config.Config) error {
	if !c.UsesEtcd() {
		return nil
	}
	if conn, err := net.DialTimeout("unix", c.SocketPath(), time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("another portus serve answers on %s: give each replica its own --data", c.SocketPath())
	}
	return nil
}

// listen opens the public listener and the admin socket (mode 0600: its
// permissions are the admin commands' trust boundary).
func listen(c config.Config) (public, admin net.Listener, err error) {
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listening on %s: %w (is another server using the port? choose one with --listen)", c.Listen, err)
	}
	// This process holds the database lock (with etcd: it checked that no
	// server answers), so a socket file left behind is from a server that
	// died: replace it, if it is ours. The directory is ours and only we
	// may write it (0700, checked here again), so nobody can swap the new
	// socket, nor reach it before its chmod.
	sock := c.SocketPath()
	if err := CheckAdminSocket(sock); err != nil {
		ln.Close()
		return nil, nil, err
	}
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		ln.Close()
		return nil, nil, fmt.Errorf("removing stale admin socket: %w", err)
	}
	adminLn, err := net.Listen("unix", sock)
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("creating admin socket %s: %w", sock, err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		adminLn.Close()
		return nil, nil, fmt.Errorf("setting the mode of the admin socket: %w", err)
	}
	return ln, adminLn, nil
}

// newServers returns the HTTP servers of the public listener and the
// admin socket. Bodies are at most 64 KiB and answers small: generous
// timeouts still keep a slow client from holding a connection for ever.
func newServers(public, admin http.Handler, log *slog.Logger) (publicSrv, adminSrv *http.Server) {
	publicSrv = &http.Server{Handler: public, MaxHeaderBytes: 16 << 10,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	adminSrv = &http.Server{Handler: admin, ReadHeaderTimeout: 10 * time.Second}
	return publicSrv, adminSrv
}

// waitForStop waits for ctx to end or a listener to fail, and returns the
// listener's failure.
func waitForStop(ctx context.Context, errc <-chan error, log *slog.Logger) error {
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing requests in flight")
		return nil
	case err := <-errc:
		log.Error("listener failed", "err", err)
		return err
	}
}

// shutdown stops the servers (nil ones are not running) and lets the
// requests in flight finish, for at most shutdownTimeout.
func shutdown(servers ...*http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var err error
	for _, srv := range servers {
		if srv != nil {
			err = errors.Join(err, srv.Shutdown(ctx))
		}
	}
	return err
}
