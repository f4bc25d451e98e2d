// Package portusclient owns the credential helper's conversations over
// HTTP: with a Portus server's JSON API, to exchange a password for an
// application token (CreateToken) and to revoke that token again
// (RevokeCurrent), and with a Docker registry, to find out which Portus
// server it delegates authentication to (Discover).
//
// Every request has a timeout (Options.Timeout), follows no redirect when it
// carries credentials, and never logs a header or a body. Failures are
// *Error values whose messages say what went wrong and what to do; test
// them with errors.Is against ErrWrongPassword, ErrLimitReached,
// ErrThrottled, ErrRejected, ErrServer, ErrUnreachable, ErrTLS,
// ErrProtocol, ErrNotPortus and ErrInsecure.
package portusclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
)

// DefaultTimeout bounds each request when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxBody is the most the client reads of any answer.
const maxBody = 1 << 20

// Options configures a Client and Discover.
type Options struct {
	// Timeout bounds each request, connection and TLS handshake included;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// CAFile names a PEM file of certificate authorities trusted besides
	// the system's; "" trusts the system's only.
	CAFile string
	// UserAgent is sent as the User-Agent header when not "".
	UserAgent string
	// ConfigFile is the helper's configuration file, named in the advice
	// of TLS errors; "" names it generically.
	ConfigFile string
	// Log receives one debug line per request (method, URL, status,
	// duration). nil discards them.
	Log *slog.Logger
	// Proxy chooses the proxy of a request that may use one (all but
	// plain http to this machine, see splitTransport); nil means
	// http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
	// Resolver looks up loopback names before plain http goes to them; nil
	// means net.DefaultResolver.
	Resolver Resolver
}

// Client talks to one Portus server. It is safe for concurrent use.
type Client struct {
	base       string
	http       *resty.Client
	log        *slog.Logger
	configFile string
	timeout    time.Duration
}

// New returns a Client for the Portus server at base, an absolute http(s)
// URL such as "https://portus.example.com" (a trailing slash is dropped).
// It fails only when the CA file cannot be used.
func New(base string, opts Options) (*Client, error) {
	r, log, err := newResty(opts, false)
	if err != nil {
		return nil, err
	}
	return &Client{base: strings.TrimRight(base, "/"), http: r, log: log, configFile: opts.ConfigFile, timeout: timeout(opts)}, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.base }

// ProfileURL is the page where a user sees and revokes their tokens.
func (c *Client) ProfileURL() string { return ProfileURL(c.base) }

// ProfileURL is the profile page of the Portus server at base.
func ProfileURL(base string) string { return strings.TrimRight(base, "/") + "/profile" }

// newResty builds the resty client shared by Client and Discover. Requests
// that carry credentials must not follow redirects (followRedirects false):
// net/http would forward an Authorization header to a redirect on the same
// host, possibly over plain HTTP.
func newResty(opts Options, followRedirects bool) (*resty.Client, *slog.Logger, error) {
	timeout := timeout(opts)
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tlsConfig, err := tlsConfig(opts.CAFile)
	if err != nil {
		return nil, nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	transport.TLSHandshakeTimeout = timeout
	transport.ResponseHeaderTimeout = timeout
	hc := &http.Client{Transport: newSplitTransport(transport, timeout, opts.Proxy, opts.Resolver), Timeout: timeout}
	if followRedirects {
		hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil
		}
	} else {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	r := resty.NewWithClient(hc).
		SetLogger(restyLogger{log}).
		SetDisableWarn(true).
		SetRetryCount(0).
		SetResponseBodyLimit(maxBody).
		SetHeader("Accept", "application/json")
	if opts.UserAgent != "" {
		r.SetHeader("User-Agent", opts.UserAgent)
	}
	r.OnAfterResponse(func(_ *resty.Client, resp *resty.Response) error {
		log.Debug("http", "method", resp.Request.Method, "url", resp.Request.URL,
			"status", resp.StatusCode(), "duration", resp.Time())
		return nil
	})
	r.OnError(func(req *resty.Request, err error) {
		log.Debug("http failed", "method", req.Method, "url", req.URL, "error", err)
	})
	return r, log, nil
}

// timeout is the bound on each request of opts.
func timeout(opts Options) time.Duration {
	if opts.Timeout <= 0 {
		return DefaultTimeout
	}
	return opts.Timeout
}

// tlsConfig trusts the system's CAs plus those in caFile.
func tlsConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// restyLogger sends resty's own messages to the debug log: they go nowhere
// near stdout, which carries the helper protocol.
type restyLogger struct{ log *slog.Logger }

func (l restyLogger) Errorf(format string, v ...any) {
	l.log.Debug("resty: " + fmt.Sprintf(format, v...))
}
func (l restyLogger) Warnf(format string, v ...any) {
	l.log.Debug("resty: " + fmt.Sprintf(format, v...))
}
func (l restyLogger) Debugf(format string, v ...any) {
	l.log.Debug("resty: " + fmt.Sprintf(format, v...))
}
