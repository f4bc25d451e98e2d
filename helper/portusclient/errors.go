package portusclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/portusproject/portus/shared/apptoken"
)

// Kinds of failure; an *Error matches exactly one of them with errors.Is.
var (
	// ErrWrongPassword: Portus refused the username or password (401).
	ErrWrongPassword = errors.New("wrong username or password")
	// ErrLimitReached: the user has as many tokens as Portus allows (422).
	ErrLimitReached = errors.New("application token limit reached")
	// ErrThrottled: Portus asks the client to slow down (429).
	ErrThrottled = errors.New("throttled")
	// ErrRejected: Portus refused the request (another 4xx).
	ErrRejected = errors.New("request refused")
	// ErrServer: Portus failed (5xx).
	ErrServer = errors.New("server error")
	// ErrUnreachable: no answer: DNS, connection or timeout.
	ErrUnreachable = errors.New("server unreachable")
	// ErrTLS: the TLS handshake or certificate check failed.
	ErrTLS = errors.New("TLS failure")
	// ErrProtocol: an answer that is not what a Portus server (or a Docker
	// registry) sends.
	ErrProtocol = errors.New("unexpected answer")
	// ErrNotPortus: the registry does not delegate authentication to a
	// Portus server.
	ErrNotPortus = errors.New("registry does not use Portus")
	// ErrInsecure: the registry delegates to a Portus server over plain HTTP
	// on another machine, or plain HTTP would go to a loopback name that
	// does not resolve to this machine only (Err wraps ErrNotLoopback); the
	// password would cross the network in clear.
	ErrInsecure = errors.New("Portus server over plain HTTP")
)

// Error is a failed conversation with a Portus server or a registry.
type Error struct {
	// Kind is one of the Err* values of this package.
	Kind error
	// Peer is "Portus" or "the registry".
	Peer string
	// URL is the peer's base URL.
	URL string
	// Username is the account concerned, when there is one.
	Username string
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Message is what the server said, cleaned up for display.
	Message string
	// RetryAfter is the wait the server asked for (ErrThrottled), or 0.
	RetryAfter time.Duration
	// Err is the transport error behind ErrUnreachable and ErrTLS.
	Err error
	// ConfigFile is the helper's configuration file, named in the advice
	// of ErrTLS, ErrInsecure, ErrProtocol and timeouts; "" names it
	// generically.
	ConfigFile string
	// Timeout is the bound on the request (http_timeout), named when
	// there was no answer within it.
	Timeout time.Duration
}

// Error says what happened and what to do about it, in one line.
func (e *Error) Error() string {
	at := e.Peer + " at " + e.URL
	said := e.said()
	switch e.Kind {
	case ErrWrongPassword:
		return fmt.Sprintf("%s refused the username or password of %q%s: check them and log in again", at, e.Username, said)
	case ErrLimitReached:
		return fmt.Sprintf("%q already has as many application tokens as %s allows%s: revoke one you no longer use on your profile page, %s, then log in again",
			e.Username, at, said, ProfileURL(e.URL))
	case ErrThrottled:
		wait := "a while"
		if e.RetryAfter > 0 {
			wait = e.RetryAfter.String()
		}
		return fmt.Sprintf("%s is refusing requests for now%s: try again in %s", at, said, wait)
	case ErrRejected:
		return fmt.Sprintf("%s refused the request%s", at, said)
	case ErrServer:
		return fmt.Sprintf("%s failed%s: try again later, or ask its administrator", at, said)
	case ErrUnreachable:
		if timedOut(e.Err) {
			return fmt.Sprintf("cannot reach %s: %s: check the address and that the server is running and reachable from here; if it is only slow, raise \"http_timeout\" in %s",
				at, e.describe(), e.configFile())
		}
		return fmt.Sprintf("cannot reach %s: %s: check the address and that the server is running and reachable from here", at, e.describe())
	case ErrTLS:
		return fmt.Sprintf("TLS connection to %s failed: %s: if the server uses a private certificate authority, name its PEM file as \"ca_file\" for this registry in %s",
			at, e.describe(), e.configFile())
	case ErrNotPortus:
		return fmt.Sprintf("%s does not delegate authentication to a Portus server: %s", at, e.Message)
	case ErrInsecure:
		if errors.Is(e.Err, ErrNotLoopback) {
			return fmt.Sprintf("refusing plain HTTP to %s: %s, so a password sent there could leave this machine unencrypted: use an https URL for it, or a realm on this machine (localhost, 127.0.0.1, ::1). Nothing was sent",
				at, e.describe())
		}
		return fmt.Sprintf("%s delegates authentication to a Portus server over plain HTTP (%s): refusing to send your password there unencrypted; serve Portus over https, or set \"portus\" for this registry in %s to accept the risk",
			at, e.Message, e.configFile())
	case ErrProtocol:
		if e.Peer == peerPortus {
			return fmt.Sprintf("unexpected answer from %s%s: perhaps it is not a Portus server, or a proxy in front of it answered instead: check the address (set \"portus\" for this registry in %s to choose the server) or ask its administrator",
				at, said, e.configFile())
		}
		return fmt.Sprintf("unexpected answer from %s%s: check the registry's address, or set \"portus\" for this registry in %s to name its Portus server",
			at, said, e.configFile())
	default:
		return fmt.Sprintf("unexpected answer from %s%s", at, said)
	}
}

func (e *Error) configFile() string {
	if e.ConfigFile != "" {
		return e.ConfigFile
	}
	return "the helper's configuration file (docker-credential-portus/config.json)"
}

// said is " (HTTP 401: message)" or "" when there was no answer.
func (e *Error) said() string {
	if e.Status == 0 {
		if e.Message != "" {
			return " (" + e.Message + ")"
		}
		return ""
	}
	if e.Message == "" {
		return fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	return fmt.Sprintf(" (HTTP %d: %s)", e.Status, e.Message)
}

// Is makes errors.Is(err, ErrLimitReached) and the like work.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

// transportError classifies an error from the HTTP client: TLS or not.
// timeout is the request's bound, named in the message of a timeout.
func transportError(peer, base string, err error, timeout time.Duration, configFile string) *Error {
	kind := ErrUnreachable
	var (
		unknownCA    x509.UnknownAuthorityError
		hostname     x509.HostnameError
		invalid      x509.CertificateInvalidError
		verification *tls.CertificateVerificationError
		record       tls.RecordHeaderError
		alert        tls.AlertError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verification), errors.As(err, &record), errors.As(err, &alert),
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"),
		strings.Contains(err.Error(), "tls: "):
		kind = ErrTLS
	case errors.Is(err, ErrNotLoopback):
		kind = ErrInsecure
	}
	return &Error{Kind: kind, Peer: peer, URL: base, Err: err, ConfigFile: configFile, Timeout: timeout}
}

// timedOut reports whether a transport error is a timeout: the peer
// accepted the connection (or never answered it) and said nothing in time.
func timedOut(err error) bool {
	var ne interface{ Timeout() bool }
	return err != nil && errors.As(err, &ne) && ne.Timeout()
}

// describe turns the transport error into a short phrase, without
// repeating the request URL that *url.Error carries.
func (e *Error) describe() string {
	err := e.Err
	if err == nil {
		return "no answer"
	}
	if timedOut(err) {
		if e.Timeout > 0 {
			return "no answer within " + e.Timeout.String()
		}
		return "no answer in time"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return clean(err.Error())
}

// statusError maps a non-2xx answer to an Error; secret is the password
// or token the request carried, kept out of the message.
func statusError(peer, base, username string, status int, header http.Header, body []byte, secret string) *Error {
	e := &Error{Peer: peer, URL: base, Username: username, Status: status, Message: serverMessage(body, secret)}
	switch {
	case status == http.StatusUnauthorized:
		e.Kind = ErrWrongPassword
	case status == http.StatusUnprocessableEntity && looksLikeLimit(e.Message):
		e.Kind = ErrLimitReached
	case status == http.StatusTooManyRequests:
		e.Kind = ErrThrottled
		e.RetryAfter = retryAfter(header.Get("Retry-After"), time.Now())
	case status >= 500:
		e.Kind = ErrServer
	case status >= 400:
		e.Kind = ErrRejected
	default:
		e.Kind = ErrProtocol
	}
	return e
}

// looksLikeLimit tells the limit error from other 422s (a name already
// taken, say) by its wording: "users cannot have more than 5 application
// tokens". The server's 422 is reserved for the limit today; the check keeps
// a future validation error from being reported as one.
func looksLikeLimit(msg string) bool {
	m := strings.ToLower(msg)
	return m == "" || strings.Contains(m, "more than") || strings.Contains(m, "limit") || strings.Contains(m, "maximum")
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

var tokenPattern = regexp.MustCompile(apptoken.Pattern)

// Clean is clean for the helper's own messages that show what a server
// sent (login's verification address and user code).
func Clean(s string) string { return clean(s) }

// clean makes a server's words safe to show: one line, printable, short,
// and any application token redacted.
func clean(s string) string {
	s = tokenPattern.ReplaceAllStringFunc(s, apptoken.Redact)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}
