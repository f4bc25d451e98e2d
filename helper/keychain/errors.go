package keychain

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// Causes of keyring failures. Every error of a Keychain method wraps at most
// one of them; test with errors.Is.
var (
	// ErrNotFound: no item for that server.
	ErrNotFound = errors.New("not found in the keyring")
	// ErrNoSessionBus: Linux/BSD without a usable D-Bus session bus.
	ErrNoSessionBus = errors.New("no D-Bus session bus")
	// ErrNoSecretService: a session bus, but no Secret Service on it.
	ErrNoSecretService = errors.New("no Secret Service (org.freedesktop.secrets) on the D-Bus session bus")
	// ErrLocked: the keyring is locked and could not be unlocked.
	ErrLocked = errors.New("the keyring is locked")
	// ErrTimeout: the keyring did not answer within the timeout.
	ErrTimeout = errors.New("the keyring did not answer in time")
	// ErrTooLarge: a value above MaxValueLen (or the platform's limit).
	ErrTooLarge = errors.New("value too large for the keyring")
	// ErrUnsupported: no keyring, or no file locks, on this operating system.
	ErrUnsupported = errors.New("no supported keyring on " + runtime.GOOS)
)

// Hints appended to the causes above, saying how to fix them.
const (
	hintStartKeyring = "on a headless machine run docker inside a session bus with an unlocked keyring, e.g. " +
		"`dbus-run-session -- sh -c 'echo -n KEYRING_PASSWORD | gnome-keyring-daemon --unlock --components=secrets; docker login ...'` " +
		"(Debian packages dbus and gnome-keyring); docker-credential-portus never starts daemons itself"
	hintUnlock = "unlock it (in the desktop's keyring manager such as Seahorse, or headless with " +
		"`echo -n KEYRING_PASSWORD | gnome-keyring-daemon --replace --unlock --components=secrets`) and try again"
)

// causeError is one of the causes above with details and a hint.
type causeError struct {
	kind   error
	detail string
	hint   string
}

func (e *causeError) Error() string {
	s := e.kind.Error()
	if e.detail != "" {
		s += " (" + e.detail + ")"
	}
	if e.hint != "" {
		s += ": " + e.hint
	}
	return s
}

func (e *causeError) Unwrap() error { return e.kind }

// opError says what the Keychain was doing when err happened.
func opError(what string, err error) error {
	return fmt.Errorf("keyring: %s: %w", what, err)
}

func timeoutError(d time.Duration) error {
	return &causeError{kind: ErrTimeout, detail: "no answer within " + d.String(),
		hint: "the keyring may be locked and waiting for an unlock prompt nobody can see, or its daemon is hung; " + hintUnlock}
}

// classify maps what a backend returned to one of the causes, keeping the
// backend's own words as the detail. go-keyring's Secret Service errors are
// D-Bus errors whose text is all there is to go by.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ce *causeError
	if errors.As(err, &ce) {
		return err
	}
	msg := err.Error()
	lower := strings.ToLower(msg)
	switch {
	case errors.Is(err, keyring.ErrNotFound), errors.Is(err, ErrNotFound):
		return ErrNotFound
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return &causeError{kind: ErrTooLarge, detail: msg}
	case errors.Is(err, keyring.ErrUnsupportedPlatform):
		return &causeError{kind: ErrUnsupported, detail: msg}
	case strings.Contains(msg, "org.freedesktop.secrets"), strings.Contains(msg, "ServiceUnknown"):
		return &causeError{kind: ErrNoSecretService, detail: msg,
			hint: "install and start a Secret Service provider such as gnome-keyring or KeePassXC, or start it again if it stopped; " + hintStartKeyring}
	case strings.Contains(lower, "disconnected from message bus"), strings.Contains(lower, "noreply"),
		strings.Contains(lower, "did not receive a reply"):
		// The bus answers so for a call whose recipient went away (or
		// never replied): the Secret Service stopped or crashed mid-call.
		return &causeError{kind: ErrNoSecretService, detail: "the Secret Service stopped in the middle of the call: " + msg,
			hint: "it may have crashed or been killed; start it again (a desktop session starts it at login; headless: " +
				"`echo -n KEYRING_PASSWORD | gnome-keyring-daemon --replace --unlock --components=secrets`) and try again"}
	case strings.Contains(lower, "failed to unlock"), strings.Contains(lower, "islocked"),
		strings.Contains(lower, "is locked"), strings.Contains(lower, "prompt") && strings.Contains(lower, "dismiss"):
		return &causeError{kind: ErrLocked, detail: msg, hint: hintUnlock}
	case strings.HasPrefix(lower, "dbus: "), strings.Contains(lower, "dial unix"),
		strings.Contains(lower, "connection refused"):
		return &causeError{kind: ErrNoSessionBus,
			detail: "DBUS_SESSION_BUS_ADDRESS is set but the bus cannot be used: " + msg,
			hint:   "check that the session bus it names is still running; " + hintStartKeyring}
	}
	return err
}
