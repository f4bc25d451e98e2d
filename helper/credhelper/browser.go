package credhelper

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// desktopSession reports whether a browser can be opened for the user:
// on Linux and the BSDs only inside a graphical session (DISPLAY or
// WAYLAND_DISPLAY set; over ssh there is none), always on macOS and
// Windows.
func desktopSession() bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// openBrowser asks the desktop to open url in the user's browser, without
// waiting for it: the standard opener of each system (xdg-open, open,
// rundll32's URL handler). Its output is discarded; a failure only means
// the user opens the address shown on stderr themselves.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // reap it; xdg-open returns at once
	return nil
}

// browsable checks that raw, an address the Portus server at base asked
// the user to open, may be handed to the system's opener, and returns it
// as parsed. The server was found through the registry's Bearer realm, so
// a hostile registry picks it: without the check it could have xdg-open,
// open or rundll32 open a file:// URL, a `\\host\share\x.exe` path (which
// Windows runs) or any other scheme's handler. Only an absolute http(s)
// URL on the Portus server's own host and port passes, and http only when
// the server itself is spoken to over http.
func browsable(raw, base string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("the Portus address %q does not parse: %w", base, err)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("it is not a URL: %w", err)
	case u.Scheme != "https" && (u.Scheme != "http" || b.Scheme != "http"):
		return "", fmt.Errorf("it is not an %s:// address", b.Scheme)
	case u.Opaque != "" || u.User != nil || u.Host == "":
		return "", fmt.Errorf("it is not a plain %s:// address", u.Scheme)
	case !sameHost(u, b):
		return "", fmt.Errorf("it is not on the Portus server %s", b.Host)
	}
	return u.String(), nil
}

// sameHost reports whether u and b name the same host and port, a missing
// port being the scheme's default.
func sameHost(u, b *url.URL) bool {
	port := func(v *url.URL) string {
		if p := v.Port(); p != "" {
			return p
		}
		if v.Scheme == "http" {
			return "80"
		}
		return "443"
	}
	return strings.EqualFold(u.Hostname(), b.Hostname()) && port(u) == port(b)
}
