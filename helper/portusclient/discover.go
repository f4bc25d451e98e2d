package portusclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/portusproject/portus/helper/registryurl"
	"github.com/portusproject/portus/shared/apitypes"
)

const peerRegistry = "the registry"

// Discover asks the registry (a key from registryurl.Normalize, such as
// "registry.example.com" or "localhost:5000") which Portus server it
// delegates authentication to, and returns that server's base URL.
//
// It sends GET /v2/ without credentials. A Portus-backed registry answers
// 401 with
//
//	WWW-Authenticate: Bearer realm="https://portus.example.com/v2/token",service="..."
//
// and the base URL is the realm without its /v2/token path.
//
// Like docker, it speaks https to every registry, and falls back to plain
// http only for a loopback registry (localhost, 127.0.0.0/8, ::1) whose
// https cannot be reached — the usual test and development setup.
//
// Errors are *Error: ErrNotPortus when the registry asks for no
// authentication, for Basic authentication, or for tokens from a server
// whose realm is not a Portus token endpoint; ErrInsecure when the realm is
// plain http on another machine (also when a loopback name such as
// "portus.localhost" resolves elsewhere, see splitTransport);
// ErrUnreachable, ErrTLS or ErrProtocol otherwise.
func Discover(ctx context.Context, registry string, opts Options) (string, error) {
	if registryurl.IsDockerHub(registry) {
		return "", &Error{Kind: ErrNotPortus, Peer: peerRegistry, URL: "https://registry-1.docker.io",
			Message: "Docker Hub has its own authentication"}
	}
	r, log, err := newResty(opts, true)
	if err != nil {
		return "", err
	}
	schemes := []string{"https"}
	if registryurl.IsLoopback(registry) {
		schemes = append(schemes, "http")
	}
	var lastErr error
	for _, scheme := range schemes {
		base := scheme + "://" + registry
		resp, err := r.R().SetContext(ctx).Get(base + "/v2/")
		if err != nil {
			lastErr = transportError(peerRegistry, base, err, timeout(opts), opts.ConfigFile)
			log.Debug("registry probe failed", "url", base+"/v2/", "error", err)
			if timedOut(err) {
				// A registry that accepts the connection and says nothing
				// (a stopped process) would do the same over http: do not
				// wait for it twice.
				break
			}
			continue
		}
		return portusFromAnswer(base, resp.StatusCode(), resp.Header(), opts.ConfigFile)
	}
	return "", lastErr
}

// portusFromAnswer reads the Portus base URL from the registry's answer to
// GET /v2/.
func portusFromAnswer(base string, status int, header http.Header, configFile string) (string, error) {
	notPortus := func(why string) error {
		return &Error{Kind: ErrNotPortus, Peer: peerRegistry, URL: base, Status: status, Message: why}
	}
	challenges := ParseChallenges(header.Values("WWW-Authenticate"))
	var bearer *Challenge
	for i := range challenges {
		if challenges[i].Scheme == "bearer" {
			bearer = &challenges[i]
			break
		}
	}
	switch {
	case status == http.StatusOK:
		return "", notPortus("it asks for no authentication")
	case status != http.StatusUnauthorized:
		return "", notPortus(fmt.Sprintf("GET /v2/ answered HTTP %d instead of 401 with a Bearer challenge", status))
	case bearer == nil && len(challenges) > 0:
		return "", notPortus(fmt.Sprintf("it asks for %s authentication, not for tokens", challenges[0].Scheme))
	case bearer == nil:
		return "", notPortus("its 401 answer carries no WWW-Authenticate challenge")
	}
	realm := bearer.Params["realm"]
	u, err := url.Parse(realm)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &Error{Kind: ErrProtocol, Peer: peerRegistry, URL: base, Status: status, ConfigFile: configFile,
			Message: fmt.Sprintf("the Bearer realm %q is not an absolute http(s) URL", clean(realm))}
	}
	path := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(path, apitypes.RegistryTokenPath) {
		return "", notPortus(fmt.Sprintf("its token server %s is not a Portus token endpoint (…%s)",
			clean(u.Redacted()), apitypes.RegistryTokenPath))
	}
	portus := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(path, apitypes.RegistryTokenPath)}).String()
	if u.Scheme == "http" && !registryurl.IsLoopback(u.Host) {
		return "", &Error{Kind: ErrInsecure, Peer: peerRegistry, URL: base, Message: portus, ConfigFile: configFile}
	}
	return portus, nil
}

// Challenge is one challenge of a WWW-Authenticate header (RFC 9110 §11.6.1).
type Challenge struct {
	// Scheme is lower-case: "bearer", "basic".
	Scheme string
	// Params maps lower-case parameter names to their (unquoted) values.
	Params map[string]string
}

// ParseChallenges parses the values of WWW-Authenticate headers. It is
// lenient: what it cannot parse it skips, and it never fails.
func ParseChallenges(values []string) []Challenge {
	var out []Challenge
	for _, v := range values {
		out = append(out, parseChallengeList(v)...)
	}
	return out
}

func parseChallengeList(s string) []Challenge {
	var out []Challenge
	p := &challengeParser{s: s}
	for {
		p.skip(" \t,")
		if p.done() {
			return out
		}
		scheme := p.token()
		if scheme == "" {
			p.i++ // not a token character: skip it
			continue
		}
		ch := Challenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
		// Parameters: name=value pairs separated by commas. A bare token
		// after a comma starts the next challenge.
		for {
			p.skip(" \t")
			save := p.i
			name := p.token()
			p.skip(" \t")
			if name == "" || !p.eat('=') {
				p.i = save
				if name == "" && !p.done() && p.s[p.i] != ',' {
					p.i++ // token68 or junk: skip a character
					continue
				}
				break
			}
			p.skip(" \t")
			var value string
			if !p.done() && p.s[p.i] == '"' {
				value = p.quoted()
			} else {
				value = p.until(" \t,")
			}
			ch.Params[strings.ToLower(name)] = value
			p.skip(" \t")
			if !p.eat(',') {
				break
			}
		}
		out = append(out, ch)
	}
}

type challengeParser struct {
	s string
	i int
}

func (p *challengeParser) done() bool { return p.i >= len(p.s) }

func (p *challengeParser) skip(chars string) {
	for !p.done() && strings.IndexByte(chars, p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *challengeParser) eat(c byte) bool {
	if !p.done() && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// token reads an RFC 9110 token.
func (p *challengeParser) token() string {
	start := p.i
	for !p.done() && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// until reads up to the next of the stop characters: a lenient unquoted
// parameter value.
func (p *challengeParser) until(stop string) string {
	start := p.i
	for !p.done() && strings.IndexByte(stop, p.s[p.i]) < 0 {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string, starting at its opening quote.
func (p *challengeParser) quoted() string {
	p.i++ // opening quote
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if !p.done() {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
