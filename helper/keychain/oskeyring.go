package keychain

import (
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/zalando/go-keyring"
)

// usesSessionBus: go-keyring reaches the Secret Service over D-Bus everywhere
// but on macOS and Windows.
const usesSessionBus = runtime.GOOS != "darwin" && runtime.GOOS != "windows"

// providerMu serialises calls into go-keyring within this process: its
// package-level provider is shared, and its in-memory fake (keyring.MockInit)
// is not safe for concurrent use.
var providerMu sync.Mutex

// OSKeyring is the Backend of the operating system's keyring: go-keyring's
// package-level functions. After keyring.MockInit or keyring.MockInitWithError
// those use go-keyring's in-memory fake; tests then set SkipBusCheck, since
// the fake needs no D-Bus.
type OSKeyring struct {
	// SkipBusCheck turns off the DBUS_SESSION_BUS_ADDRESS check of Check.
	SkipBusCheck bool
}

// Check fails with an error wrapping ErrNoSessionBus when the keyring is the
// Secret Service and DBUS_SESSION_BUS_ADDRESS is unset or empty: go-keyring's
// D-Bus library would otherwise try to start a bus of its own.
func (o OSKeyring) Check() error {
	if o.SkipBusCheck || !usesSessionBus || os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return nil
	}
	hint := ""
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		sock := filepath.Join(rt, "bus")
		if fi, err := os.Stat(sock); err == nil && fi.Mode().Type() == os.ModeSocket {
			hint = "a session bus is listening at " + sock + ": `export DBUS_SESSION_BUS_ADDRESS=unix:path=" + sock + "`; otherwise "
		}
	}
	return &causeError{
		kind:   ErrNoSessionBus,
		detail: "DBUS_SESSION_BUS_ADDRESS is not set, so the Secret Service keyring (gnome-keyring, KeePassXC) cannot be reached",
		hint:   hint + "a desktop session sets it for you; " + hintStartKeyring,
	}
}

// Set implements Backend.
func (OSKeyring) Set(service, user, secret string) error {
	providerMu.Lock()
	defer providerMu.Unlock()
	return keyring.Set(service, user, secret)
}

// Get implements Backend.
func (OSKeyring) Get(service, user string) (string, error) {
	providerMu.Lock()
	defer providerMu.Unlock()
	return keyring.Get(service, user)
}

// Delete implements Backend.
func (OSKeyring) Delete(service, user string) error {
	providerMu.Lock()
	defer providerMu.Unlock()
	return keyring.Delete(service, user)
}
