package credhelper

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/helper/portusclient"
	"github.com/portusproject/portus/helper/registryurl"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// `docker-credential-portus login REGISTRY`: the device authorization
// grant (RFC 8628). The helper finds the registry's Portus server as store
// does, asks it for a code, and shows the address and the code on stderr
// (and opens the browser in a desktop session); the user signs in there
// however they sign in — password, LDAP, the company's SSO — and approves.
// The helper polls meanwhile, gets an application token, keeps it in the
// keyring exactly as store keeps an exchanged one (same item, same
// per-server lock, so get, erase and docker logout work unchanged) and
// points docker at itself for the registry in docker's config.json.

const (
	loginUsage = "login REGISTRY [--scope pull|push|delete] [--no-browser]"
	loginAbout = `Logs in to REGISTRY without a password in the terminal: approve the request in
your browser, and the helper keeps the application token it gets in the OS
keyring and adds "credHelpers": {"REGISTRY": "portus"} to docker's config.json.
Ctrl-C cancels.`
	// deviceClientID is the client_id the helper sends.
	deviceClientID = Name
)

// errLoginCancelled ends a login on Ctrl-C.
var errLoginCancelled = errors.New("login cancelled: no token was stored")

// errCodeExpired ends a login whose code nobody approved in time.
var errCodeExpired = errors.New("the code expired before it was approved; no token was stored: run `" + Name + " login` again")

func (h *Helper) loginCommand(ctx context.Context, args []string) error {
	if h.helpRequested(args, loginUsage, loginAbout) {
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	scope := fs.String("scope", "", "the token's scope: pull, push or delete (default: the registry's \"scope\" in the configuration, else the server's)")
	noBrowser := fs.Bool("no-browser", false, "do not open a browser; only print the address and the code")
	pos, err := parseArgs(fs, args, 1, loginUsage)
	if err != nil {
		return err
	}
	return h.Login(ctx, pos[0], *scope, !*noBrowser)
}

// Login runs the device grant for registry; see the file's comment.
// browser opens the verification address when a desktop session is
// present.
func (h *Helper) Login(ctx context.Context, registry, scope string, browser bool) error {
	key, err := registryurl.Normalize(registry)
	if err != nil {
		return err
	}
	cfg, err := h.loadConfig()
	if err != nil {
		return fmt.Errorf("%w: fix the file, or remove it to use the defaults", err)
	}
	if scope == "" {
		scope = cfg.Registry(key).Scope
	}
	switch scope {
	case "", apitypes.ScopePull, apitypes.ScopePush, apitypes.ScopeDelete:
	default:
		return fmt.Errorf("--scope %q: want pull, push or delete", scope)
	}
	client, err := h.portusOf(ctx, cfg, key)
	if err != nil {
		return err
	}
	a, err := client.RequestDeviceCode(ctx, deviceClientID, scope, tokenName(h.hostname()))
	if err != nil {
		return fmt.Errorf("asking %s for a login code: %w", client.URL(), err)
	}
	h.showCode(key, client.URL(), a, browser && desktopSession())
	tok, err := h.awaitApproval(ctx, client, a)
	if err != nil {
		return err
	}
	// IssuedAt as store writes it: without it rotate_after finds the
	// record ageless and the first get rotates the fresh token.
	rec := &record{Kind: kindCreated, Username: tok.Username, Secret: tok.AccessToken, Portus: client.URL(),
		TokenName: tok.TokenName, TokenID: tok.TokenID, IssuedAt: time.Now().UTC()}
	if err := h.withServer("login", key, func(cfg *config.Config, kc *keychain.Keychain, old *record) error {
		return h.keepDeviceToken(ctx, cfg, kc, client, key, old, rec)
	}); err != nil {
		return err
	}
	h.notify("logged in to %s as %s: application token %q (%s) is in the OS keyring",
		key, portusclient.Clean(tok.Username), portusclient.Clean(tok.TokenName), portusclient.Clean(tok.Scope))
	return h.pointDockerAt(key)
}

// showCode tells the user on stderr where to approve the login and with
// which code, and, with browser, opens the address in their browser if it
// is one on the Portus server at base (see browsable). Everything the
// server sent is cleaned of control characters first: a terminal escape
// in it must not reach the terminal.
func (h *Helper) showCode(key, base string, a *apitypes.DeviceAuthorization, browser bool) {
	uri, complete, code := portusclient.Clean(a.VerificationURI), portusclient.Clean(a.VerificationURIComplete), portusclient.Clean(a.UserCode)
	h.notify("to log in to %s, open %s in a browser and enter the code %s", key, uri, code)
	if complete != "" {
		h.notify("(or open %s, which has the code filled in)", complete)
	}
	if !browser {
		return
	}
	open := a.VerificationURIComplete
	if open == "" {
		open = a.VerificationURI
	}
	target, err := browsable(open, base)
	if err != nil && open != a.VerificationURI && a.VerificationURI != "" {
		// The address with the code filled in is refused; the plain one,
		// where the user types the code, may still be the server's own.
		if plain, perr := browsable(a.VerificationURI, base); perr == nil {
			h.notify("not opening %s in a browser: %s; opening %s instead, where you enter the code", portusclient.Clean(open), portusclient.Clean(err.Error()), portusclient.Clean(plain))
			target, err = plain, nil
		}
	}
	if err != nil {
		h.notify("not opening %s in a browser: %s; open the address yourself if you trust it", portusclient.Clean(open), portusclient.Clean(err.Error()))
		return
	}
	if err := openBrowser(target); err != nil {
		h.notify("could not open a browser (%v): open the address yourself", err)
	}
}

// portusOf is the Portus server of registry key: configured, or found by
// discovery as store finds it.
func (h *Helper) portusOf(ctx context.Context, cfg *config.Config, key string) (*portusclient.Client, error) {
	opts := h.clientOptions(cfg, key)
	portus := cfg.Registry(key).Portus
	if portus == "" {
		var err error
		if portus, err = portusclient.Discover(ctx, key, opts); err != nil {
			if errors.Is(err, portusclient.ErrNotPortus) {
				return nil, fmt.Errorf("%w; `%s login` works only with registries that delegate to Portus (or set \"portus\" for %s in %s)", err, Name, key, cfg.Path)
			}
			return nil, fmt.Errorf("finding the Portus server of %s: %w", key, err)
		}
	}
	client, err := portusclient.New(portus, opts)
	if err != nil {
		return nil, fmt.Errorf("configuration of %s in %s: %w", key, cfg.Path, err)
	}
	return client, nil
}

// keepDeviceToken stores rec, the token just received, for key in place
// of old, under the Portus server's lock as createAndStore does, and
// shares it with the registries whose token it replaced. When the keyring
// refuses it, the token is revoked again.
func (h *Helper) keepDeviceToken(ctx context.Context, cfg *config.Config, kc *keychain.Keychain, client *portusclient.Client, key string, old, rec *record) error {
	// The server made the token (and replaced the stored one's name) at
	// the approval: a failure from here on must not leave it live and
	// unheld, so both the lock and the write give it up through abandon.
	retry := Name + " login " + key
	unlock, err := h.lockPortus(cfg, kc, client.URL())
	if err != nil {
		return h.abandon(ctx, client, kc, key, old, rec, err, retry)
	}
	if err := writeRecord(kc, key, rec); err != nil {
		unlock()
		return h.abandon(ctx, client, kc, key, old, rec, err, retry)
	}
	h.log.Debug("login: token stored", "server", key, "name", rec.TokenName, "token", apptoken.Redact(rec.Secret))
	h.share(kc, key, rec)
	unlock()
	h.retire(cfg, kc, key, old, rec)
	return nil
}

// pointDockerAt adds credHelpers[key] = "portus" to docker's config.json
// and says what it changed.
func (h *Helper) pointDockerAt(key string) error {
	path, err := DockerConfigPath()
	if err != nil {
		return err
	}
	before, changed, err := setCredHelper(path, key, credHelperName)
	switch {
	case err != nil:
		return fmt.Errorf("the token is stored, but docker will not use it: %w; add \"credHelpers\": {%q: %q} to it yourself", err, key, credHelperName)
	case !changed:
		h.notify("%s already has \"credHelpers\": {%q: %q}: unchanged", path, key, credHelperName)
	case before != "":
		h.notify("changed \"credHelpers\" for %s in %s from %q to %q", key, path, before, credHelperName)
	default:
		h.notify("added \"credHelpers\": {%q: %q} to %s", key, credHelperName, path)
	}
	return nil
}

// awaitApproval polls at the server's interval until the user decides,
// the code expires or ctx ends, with a countdown on stderr.
func (h *Helper) awaitApproval(ctx context.Context, client *portusclient.Client, a *apitypes.DeviceAuthorization) (*apitypes.DeviceToken, error) {
	interval := time.Duration(a.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second
	}
	deadline := time.Now().Add(time.Duration(a.ExpiresIn) * time.Second)
	cd := newCountdown(h.stderr, deadline)
	defer cd.done()
	next := time.Now().Add(interval)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, errLoginCancelled
		case <-tick.C:
		}
		cd.show(time.Now())
		if time.Now().Before(next) {
			continue
		}
		tok, err := client.PollDevice(ctx, deviceClientID, a.DeviceCode)
		// The next poll counts from the answer, not from the request, so
		// that a slow answer never makes two polls arrive too close.
		next = time.Now().Add(interval)
		var oe *portusclient.OAuthError
		switch {
		case err == nil:
			return tok, nil
		case ctx.Err() != nil:
			return nil, errLoginCancelled
		case !errors.As(err, &oe):
			return nil, fmt.Errorf("waiting for the approval: %w; no token was stored", err)
		case oe.Code == apitypes.OAuthPending:
		case oe.Code == apitypes.OAuthSlowDown:
			interval += 5 * time.Second
			next = time.Now().Add(interval)
			cd.say("the server asked to poll more slowly: now every %s", interval)
		case oe.Code == apitypes.OAuthAccessDenied:
			return nil, fmt.Errorf("the login was not approved: %s; no token was stored", portusclient.Clean(oe.Description))
		case oe.Code == apitypes.OAuthExpiredToken:
			return nil, errCodeExpired
		default:
			return nil, fmt.Errorf("the login failed: %w; no token was stored: run `%s login` again", err, Name)
		}
		if time.Now().After(deadline.Add(interval)) {
			return nil, errCodeExpired
		}
	}
}
