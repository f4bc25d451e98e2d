package credhelper

import (
	"context"
	"flag"

	"github.com/portusproject/portus/helper/config"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/helper/registryurl"
)

// `docker-credential-portus logout REGISTRY`: what erase does for docker
// logout (revoke the token at its Portus server unless another registry
// holds it, remove it from the keyring), and then the registry's
// "credHelpers" entry, if it names this helper, from docker's config.json.

const (
	logoutUsage = "logout REGISTRY"
	logoutAbout = `Revokes the application token stored for REGISTRY, removes it from the OS
keyring, and removes REGISTRY's "credHelpers" entry from docker's config.json.`
)

func (h *Helper) logoutCommand(_ context.Context, args []string) error {
	if h.helpRequested(args, logoutUsage, logoutAbout) {
		return flag.ErrHelp
	}
	pos, err := parseArgs(flag.NewFlagSet("logout", flag.ContinueOnError), args, 1, logoutUsage)
	if err != nil {
		return err
	}
	return h.Logout(pos[0])
}

// Logout logs out of registry; see the file's comment.
func (h *Helper) Logout(registry string) error {
	key, err := registryurl.Normalize(registry)
	if err != nil {
		return err
	}
	err = h.withServer("logout", key, func(cfg *config.Config, kc *keychain.Keychain, rec *record) error {
		if rec == nil {
			h.notify("no credentials were stored for %s", key)
		}
		if err := h.erase(cfg, kc, key, rec); err != nil {
			return err
		}
		switch {
		case revocable(rec):
			h.notify("removed the credentials of %s from the OS keyring; its token is revoked unless another registry still uses it", key)
		case rec != nil:
			h.notify("removed the credentials of %s from the OS keyring", key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	path, err := DockerConfigPath()
	if err != nil {
		return err
	}
	before, changed, err := setCredHelper(path, key, "")
	switch {
	case err != nil:
		return err
	case changed:
		h.notify("removed \"credHelpers\": {%q: %q} from %s", key, credHelperName, path)
	case before != "":
		h.notify("%s names %q, not this helper, for %s in \"credHelpers\": unchanged", path, before, key)
	}
	return nil
}
