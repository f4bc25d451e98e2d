package credhelper

import (
	"os"
	"os/exec"
	"runtime"
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
