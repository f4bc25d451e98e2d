// Package oidcsignin owns the OpenID Connect side of single sign-on: the
// provider's discovery, the authorization code flow with PKCE, and the
// verification of the ID token (signature by the provider's JWKS,
// issuer, audience, expiry and nonce, all by go-oidc's verifier). What it
// returns is an account.SSOIdentity; which account that is, and whether
// it may sign in, is package account's decision.
//
// Discovery is lazy: a provider that is down when Portus starts does not
// stop the server. Each sign-in tries again (at most every retryAfter),
// and until it answers, Start and Finish fail with ErrUnavailable.
package oidcsignin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
)

// Errors of a sign-in. Neither ever carries a code or a token.
var (
	// ErrUnavailable: the provider could not be reached (discovery, the
	// token endpoint or its keys); trying again later may work.
	ErrUnavailable = errors.New("the sign-in service is not answering")
	// ErrRefused: what came back is not a valid sign-in for Portus (a
	// refused code, a token that fails verification, a wrong nonce).
	ErrRefused = errors.New("the sign-in could not be verified")
)

// retryAfter is how long a failed discovery is remembered before the next
// sign-in tries again.
const retryAfter = 5 * time.Second

// Options configure a Client.
type Options struct {
	Issuer, ClientID, ClientSecret string
	// RedirectURL is URL/signin/oidc/callback, registered at the provider.
	RedirectURL   string
	Scopes        []string
	UsernameClaim string
	// GroupsClaim and AdminGroup: members of AdminGroup are administrators.
	GroupsClaim, AdminGroup string
	// HTTPClient talks to the provider (default: a 10 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Client signs people in with one provider. Make it with New.
type Client struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider
	tried    time.Time
	err      error
}

// New returns a Client; it does not contact the provider.
func New(opts Options) *Client {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Client{opts: opts, log: opts.Logger}
}

// FromConfig makes the Client of the oidc section, reading the client
// secret from its file. publicURL is the server's --url.
func FromConfig(c config.OIDCConfig, publicURL string, log *slog.Logger) (*Client, error) {
	data, err := os.ReadFile(c.ClientSecretFile)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenID client secret (--oidc-client-secret-file): %w", err)
	}
	secret := strings.TrimRight(string(data), "\r\n")
	if secret == "" {
		return nil, fmt.Errorf("the OpenID client secret file %s is empty: put the secret the provider gave for client %s in it", c.ClientSecretFile, c.ClientID)
	}
	return New(Options{
		Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: secret,
		RedirectURL: strings.TrimRight(publicURL, "/") + CallbackPath,
		Scopes:      c.ScopeList(), UsernameClaim: c.UsernameClaim,
		GroupsClaim: c.GroupsClaim, AdminGroup: c.AdminGroup, Logger: log,
	}), nil
}

// Paths of the web UI's SSO routes.
const (
	StartPath    = "/signin/oidc"
	CallbackPath = "/signin/oidc/callback"
)

// Discover fetches the provider's discovery document unless it has
// already, or failed less than retryAfter ago.
func (c *Client) Discover(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	if c.err != nil && time.Since(c.tried) < retryAfter {
		return nil, c.err
	}
	c.tried = time.Now()
	// The key set fetches keys later with the context given here: one that
	// outlives the request, carrying the client with its timeout.
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), c.opts.HTTPClient), c.opts.Issuer)
	if err != nil {
		c.err = fmt.Errorf("%w: discovery at %s failed: %w", ErrUnavailable, c.opts.Issuer, err)
		c.log.Warn("the OpenID provider is not answering; SSO sign-in fails until it does (retried at the next sign-in)", "issuer", c.opts.Issuer, "err", err)
		return nil, c.err
	}
	if c.err != nil {
		c.log.Info("the OpenID provider answers again", "issuer", c.opts.Issuer)
	}
	c.provider, c.err = p, nil
	return p, nil
}

// Flow is what one sign-in must remember between Start and Finish, kept
// in the browser's signed cookie: the state and nonce it checks and the
// PKCE verifier.
type Flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
}

func (c *Client) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: c.opts.ClientID, ClientSecret: c.opts.ClientSecret, RedirectURL: c.opts.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: c.opts.Scopes,
	}
}

// Start begins a sign-in: the provider's authorization URL to send the
// browser to, and the Flow to keep until it comes back.
func (c *Client) Start(ctx context.Context) (string, Flow, error) {
	p, err := c.Discover(ctx)
	if err != nil {
		return "", Flow{}, err
	}
	f := Flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
	u := c.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	return u, f, nil
}

// Finish redeems the code the provider sent back (the caller has checked
// the state against f) and verifies the ID token that comes with it.
func (c *Client) Finish(ctx context.Context, code string, f Flow) (account.SSOIdentity, error) {
	p, err := c.Discover(ctx)
	if err != nil {
		return account.SSOIdentity{}, err
	}
	ctx = oidc.ClientContext(ctx, c.opts.HTTPClient)
	tok, err := c.oauth(p).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			// The provider answered, and said no: a used, expired or
			// foreign code, or a PKCE mismatch.
			return account.SSOIdentity{}, fmt.Errorf("%w: the provider refused the code: %s", ErrRefused, re.ErrorCode)
		}
		return account.SSOIdentity{}, fmt.Errorf("%w: redeeming the code: %w", ErrUnavailable, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return account.SSOIdentity{}, fmt.Errorf("%w: the provider sent no ID token (is openid among the scopes?)", ErrRefused)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: c.opts.ClientID}).Verify(ctx, raw)
	if err != nil {
		return account.SSOIdentity{}, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if idt.Nonce != f.Nonce {
		return account.SSOIdentity{}, fmt.Errorf("%w: the ID token's nonce is not this sign-in's", ErrRefused)
	}
	return c.identity(idt)
}

// identity reads the configured claims of a verified ID token.
func (c *Client) identity(idt *oidc.IDToken) (account.SSOIdentity, error) {
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return account.SSOIdentity{}, fmt.Errorf("%w: reading the ID token's claims: %w", ErrRefused, err)
	}
	id := account.SSOIdentity{Subject: idt.Subject}
	id.Username, _ = claims[c.opts.UsernameClaim].(string)
	id.Email, _ = claims["email"].(string)
	id.DisplayName, _ = claims["name"].(string)
	if id.Username == "" {
		return id, fmt.Errorf("%w: the ID token has no %q claim (oidc.username_claim); the provider must put it in the ID token", ErrRefused, c.opts.UsernameClaim)
	}
	if c.opts.AdminGroup != "" {
		id.AdminChecked = true
		id.Admin = slices.Contains(groups(claims[c.opts.GroupsClaim]), c.opts.AdminGroup)
	}
	return id, nil
}

// groups reads a groups claim: a list of strings, or one string.
func groups(v any) []string {
	switch g := v.(type) {
	case string:
		return []string{g}
	case []any:
		out := make([]string, 0, len(g))
		for _, e := range g {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func random() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
