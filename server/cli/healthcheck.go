package cli

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/portusproject/portus/server/config"
)

// healthcheckTimeout bounds the whole check: a container runtime runs it
// every few seconds and counts a hang as a failure anyway.
const healthcheckTimeout = 5 * time.Second

// runHealthcheck asks the server configured as for serve (same flags,
// PORTUS_* variables and file) for GET /healthz on its listen address, and
// fails unless it answers 200. It is the container image's HEALTHCHECK:
// the image has no shell and no curl.
func runHealthcheck(env Env, args []string) error {
	fs := newFlags(env, "healthcheck", "[flags]")
	c, rest, err := config.Load(fs, config.ServeFlags, args, env.Getenv)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fs.Usage()
		return errUsage
	}
	u, err := healthURL(c)
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout: healthcheckTimeout,
		Transport: &http.Transport{
			Proxy: nil, // the server is on this machine: never through a proxy
			// The certificate names the public host, not the address
			// dialled here; the check sends nothing secret and only asks
			// whether this machine's server answers.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
	}
	resp, err := client.Get(u)
	if err != nil {
		return fmt.Errorf("the server at %s does not answer: %w", c.Listen, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %s, want 200 OK", u, resp.Status)
	}
	fmt.Fprintf(env.Stdout, "ok: %s\n", u)
	return nil
}

// healthURL is the /healthz URL of the listen address of c: a wildcard
// host (0.0.0.0, ::, none) is reached on loopback.
func healthURL(c config.Config) (string, error) {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %w (want HOST:PORT)", c.Listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz", nil
}
