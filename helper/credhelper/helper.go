// Package credhelper is docker-credential-portus: the credentials.Helper
// that docker calls through credentials.Serve to store, get, erase and list
// registry credentials.
//
// What each action does:
//
//   - store: a password is exchanged at the registry's Portus server for a
//     fresh application token (POST /api/v1/tokens, named
//     "docker-credential-portus@HOSTNAME", replacing the one of that name;
//     a host name too long for the server's 64 characters is shortened,
//     see tokenName), and only the token is kept in the OS keyring. This
//     exchange is for clients that keep the password (podman, skopeo):
//     docker login to a Portus server asks for an offline token and hands
//     store an identity token instead (username "<token>", a ptk_ login
//     token), which is kept as it is together with the Portus server that
//     issued it, found as for a password, so that erase can revoke it
//     (see storeIdentity). A secret that already is an application token,
//     another registry's identity token, or the secret already stored is
//     kept as it is, without asking the server. A registry that does not delegate to
//     Portus gets the password itself stored, with a notice on stderr, or,
//     with "strict": true in the configuration, a refusal. A Portus server
//     found through the registry's WWW-Authenticate realm on another host
//     than the registry's is named on stderr before the password goes to
//     it; with "strict": true only the registry's own host or a host with
//     the same parent domain may receive it (see checkRealm). When the
//     keyring does not take the new token, the token is revoked again, a
//     stored token the exchange replaced is removed, and the error says the
//     login did not complete. Since every token this helper creates at one
//     Portus server for one user has the same name, the registries of one
//     Portus server share a token: the new one replaces the token stored
//     for the others as well (see share).
//   - get: the username and token from the keyring, first rotated when
//     older than rotate_after (see rotate.go); for an identity token
//     its owner as the server named it at store (GET /api/v1/user), so
//     that a bare `docker login HOST` reuses it as a password instead of
//     prompting (see identityOwner), or "<token>" when the owner is
//     unknown, so that docker refreshes with it.
//   - erase: the token is revoked at the Portus server it came from
//     (DELETE /api/v1/tokens/current, authenticated by the token itself:
//     Basic with the username, or "Authorization: Bearer" for an identity
//     token, whose owner the helper may not know), unless another
//     registry of that server still holds it, then deleted from the
//     keyring. A store that replaces such a token revokes it too. If the server cannot be reached the
//     local copy is deleted anyway and stderr says which token remains valid
//     and where to revoke it.
//   - list: {server: username} for everything stored.
//
// store and erase run whole under a lock per server (see lockServer), so
// parallel logins to one registry take turns; creating, sharing and
// revoking a token also hold a lock per Portus server (see lockPortus), so
// parallel logins to two registries of one Portus server do too. They fail on a configuration
// file that cannot be read or parsed; get and list need only its
// keyring_timeout, so they warn on stderr and use the defaults instead.
//
// Server addresses are normalised (package registryurl) on every action.
// The protocol owns stdout; messages for the user go to stderr and never
// hold a password or a whole token.
package credhelper

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/helper/portusclient"
	"github.com/portusproject/portus/helper/registryurl"
	"github.com/portusproject/portus/shared/buildinfo"
)

const (
	// Name is the helper's program name; docker finds it as
	// "docker-credential-" + the credsStore value "portus".
	Name = "docker-credential-portus"
	// Module is the Go module the helper is built from.
	Module = "github.com/portusproject/portus"
	// EnvDebug names the environment variable that turns on debug output.
	EnvDebug = "PORTUS_HELPER_DEBUG"
)

// Identify sets the name, module and version that the "version" action
// prints. version comes from the linker (-ldflags "-X main.version=v1.2.3");
// when it is empty the module version recorded in the binary is used (set
// by "go install module@version"), and failing that "dev".
func Identify(version string) {
	credentials.Name = Name
	credentials.Package = Module
	credentials.Version = resolveVersion(version)
	credentials.Revision = buildinfo.Commit
}

func resolveVersion(v string) string {
	if v != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Options configures a Helper. The zero value is what the binary uses,
// apart from Debug.
type Options struct {
	// Backend is the keyring; nil means the OS keyring (keychain.OSKeyring).
	Backend keychain.Backend
	// ConfigPath is the configuration file; "" means config.DefaultPath().
	ConfigPath string
	// LockDir holds the keyring index lock and the per-server locks; "" means keychain.DefaultLockDir().
	LockDir string
	// Stderr receives messages for the user; nil means os.Stderr.
	Stderr io.Writer
	// Debug adds details on Stderr (never secrets).
	Debug bool
	// Hostname names this machine in token names; "" means os.Hostname().
	Hostname string
}

// Helper implements credentials.Helper. A Helper serves one process: it
// reads the configuration file once, on first use. store and erase fail on
// a configuration file that cannot be read or parsed; get and list warn on
// stderr and go on with the defaults.
type Helper struct {
	opts   Options
	stderr io.Writer
	log    *slog.Logger

	once     sync.Once
	cfg      *config.Config
	err      error
	warnOnce sync.Once
	// rotateOnce: get rotates at most once per process (rotate.go).
	rotateOnce sync.Once
}

var _ credentials.Helper = (*Helper)(nil)

// New returns a Helper. It does no I/O.
func New(opts Options) *Helper {
	h := &Helper{opts: opts, stderr: opts.Stderr}
	if h.stderr == nil {
		h.stderr = os.Stderr
	}
	level := slog.LevelInfo + 100 // nothing
	if opts.Debug {
		level = slog.LevelDebug
	}
	h.log = slog.New(slog.NewTextHandler(h.stderr, &slog.HandlerOptions{Level: level})).With("helper", Name)
	return h
}

// notify tells the user something on stderr.
func (h *Helper) notify(format string, args ...any) {
	_, _ = fmt.Fprintf(h.stderr, Name+": "+format+"\n", args...)
}

// loadConfig reads the configuration file, once per Helper.
func (h *Helper) loadConfig() (*config.Config, error) {
	h.once.Do(func() {
		path := h.opts.ConfigPath
		if path == "" {
			path = config.DefaultPath()
		}
		h.cfg, h.err = config.Load(path)
		if h.err == nil {
			h.log.Debug("configuration", "path", path, "registries", len(h.cfg.Registries), "strict", h.cfg.Strict)
		}
	})
	return h.cfg, h.err
}

// setup loads the configuration and opens the keychain for store and
// erase, which use all of it: a configuration file that cannot be read or
// parsed is an error naming the file.
func (h *Helper) setup() (*config.Config, *keychain.Keychain, error) {
	cfg, err := h.loadConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: fix the file, or remove it to use the defaults; docker login and logout need a valid configuration", err)
	}
	return cfg, h.keychain(cfg), nil
}

// setupRead opens the keychain for get and list, which need nothing of the
// configuration but keyring_timeout: a bad configuration file is reported on
// stderr and the defaults are used, so that a typo in it does not break
// every docker pull.
func (h *Helper) setupRead() *keychain.Keychain {
	cfg, err := h.loadConfig()
	if err != nil {
		h.warnOnce.Do(func() {
			h.notify("warning: %v; reading the keyring with the default settings (keyring_timeout %s). Fix the file: docker login and logout refuse to work until then",
				err, config.DefaultKeyringTimeout)
		})
		cfg = config.Default()
	}
	return h.keychain(cfg)
}

func (h *Helper) keychain(cfg *config.Config) *keychain.Keychain {
	return keychain.New(keychain.Options{
		Backend: h.opts.Backend,
		Timeout: cfg.KeyringTimeout,
		LockDir: h.opts.LockDir,
		Log:     h.log,
	})
}

// withServer runs f, the body of a store or erase action (named action in
// the debug log) for registry key: it loads the configuration and the
// keychain (setup), holds key's lock for the whole of f (see lockServer),
// and hands f what is stored for key: nil when nothing is, or when the item
// is not one this helper wrote, which f then replaces or removes.
func (h *Helper) withServer(action, key string, f func(cfg *config.Config, kc *keychain.Keychain, stored *record) error) error {
	cfg, kc, err := h.setup()
	if err != nil {
		return err
	}
	unlock, err := h.lockServer(cfg, kc, key)
	if err != nil {
		return err
	}
	defer unlock()
	stored, err := readRecord(kc, key)
	switch {
	case errors.Is(err, keychain.ErrNotFound):
		stored = nil
	case errors.Is(err, errBadRecord):
		h.log.Debug(action+": the stored item is unreadable; treating it as none", "server", key)
		stored = nil
	case err != nil:
		return err
	}
	return f(cfg, kc, stored)
}

// lockServer takes the per-server lock of key (see keychain.LockServer)
// for a whole store or erase action, so that two helpers working on the
// same registry at once take turns: without it, two parallel logins could
// each read the old item, each exchange the password, and the one that
// writes last could keep the token that the other's exchange had already
// replaced (and so revoked) on the server. The wait is bounded by
// serverLockWait. Where the system has no file locks (keychain.ErrUnsupported)
// there is nothing to wait for: the action fails at once, saying so, rather
// than go on unserialised.
func (h *Helper) lockServer(cfg *config.Config, kc *keychain.Keychain, key string) (func(), error) {
	unlock, err := kc.LockServer(key, 0)
	if err == nil || errors.Is(err, keychain.ErrUnsupported) {
		return unlock, err
	}
	wait := serverLockWait(cfg)
	h.log.Debug("another helper is working on this server; waiting", "server", key, "path", kc.ServerLockPath(key), "at_most", wait)
	return kc.LockServer(key, wait)
}

// serverLockWait bounds the wait for another helper's store or erase of the
// same server (or its work at the same Portus server, see lockPortus):
// longer than such an action can take, with its at most four HTTP requests
// (each within http_timeout) and eight keyring calls or index-lock waits
// (each within keyring_timeout), besides sharing a new token with other
// registries.
func serverLockWait(cfg *config.Config) time.Duration {
	return 4*cfg.HTTPTimeout + 8*cfg.KeyringTimeout
}

// clientOptions are the HTTP options for talking about registry key.
func (h *Helper) clientOptions(cfg *config.Config, key string) portusclient.Options {
	return portusclient.Options{
		Timeout:    cfg.HTTPTimeout,
		CAFile:     cfg.Registry(key).CAFile,
		UserAgent:  Name + "/" + credentials.Version,
		ConfigFile: cfg.Path,
		Log:        h.log,
	}
}

// Get returns the username and secret stored for serverURL, or exactly
// credentials.NewErrCredentialsNotFound() when there are none.
func (h *Helper) Get(serverURL string) (string, string, error) {
	key, err := registryurl.Normalize(serverURL)
	if err != nil {
		// Store normalises the same way: nothing can be stored under it.
		h.log.Debug("get: not a registry address", "error", err)
		return "", "", credentials.NewErrCredentialsNotFound()
	}
	kc := h.setupRead()
	rec, err := readRecord(kc, key)
	if errors.Is(err, keychain.ErrNotFound) {
		h.log.Debug("get: nothing stored", "server", key)
		return "", "", credentials.NewErrCredentialsNotFound()
	}
	if err != nil {
		return "", "", err
	}
	rec = h.maybeRotate(kc, key, rec)
	h.log.Debug("get", "server", key, "username", rec.Username, "kind", rec.Kind)
	return rec.Username, rec.Secret, nil
}

// List returns {server: username} for every stored server; an empty,
// non-nil map when there are none.
func (h *Helper) List() (map[string]string, error) {
	kc := h.setupRead()
	servers, err := kc.Servers()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(servers))
	for _, key := range servers {
		rec, err := readRecord(kc, key)
		switch {
		case errors.Is(err, keychain.ErrNotFound), errors.Is(err, errBadRecord):
			h.log.Debug("list: skipping", "server", key, "error", err)
		case err != nil:
			return nil, err
		default:
			out[key] = rec.Username
		}
	}
	return out, nil
}
