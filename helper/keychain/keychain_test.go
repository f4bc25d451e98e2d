package keychain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/helper/internal/filelock"
	"github.com/zalando/go-keyring"
)

// mocked returns a Keychain on go-keyring's in-memory fake.
func mocked(t *testing.T) *Keychain {
	t.Helper()
	keyring.MockInit()
	return New(Options{Backend: OSKeyring{SkipBusCheck: true}, LockDir: t.TempDir(), Timeout: 2 * time.Second})
}

func TestPutGetRemove(t *testing.T) {
	k := mocked(t)
	if _, err := k.Get("registry.example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Put: %v, want ErrNotFound", err)
	}
	if s, err := k.Servers(); err != nil || len(s) != 0 {
		t.Fatalf("Servers when empty = %v, %v", s, err)
	}
	for _, server := range []string{"registry.example.com", "localhost:5000"} {
		if err := k.Put(server, "value of "+server); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Put("localhost:5000", "new value"); err != nil {
		t.Fatal(err)
	}
	if v, err := k.Get("localhost:5000"); err != nil || v != "new value" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	// The item is where the package doc says.
	if v, err := keyring.Get(Service, "registry.example.com"); err != nil || v != "value of registry.example.com" {
		t.Fatalf("raw item = %q, %v", v, err)
	}
	if s, err := k.Servers(); err != nil || !slices.Equal(s, []string{"localhost:5000", "registry.example.com"}) {
		t.Fatalf("Servers = %v, %v", s, err)
	}
	existed, err := k.Remove("localhost:5000")
	if err != nil || !existed {
		t.Fatalf("Remove = %v, %v", existed, err)
	}
	existed, err = k.Remove("localhost:5000")
	if err != nil || existed {
		t.Fatalf("second Remove = %v, %v; want false, nil", existed, err)
	}
	if _, err := k.Get("localhost:5000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Remove: %v", err)
	}
	if s, _ := k.Servers(); !slices.Equal(s, []string{"registry.example.com"}) {
		t.Fatalf("Servers after Remove = %v", s)
	}
}

func TestRemoveDropsStaleIndexEntry(t *testing.T) {
	k := mocked(t)
	if err := k.Put("a.example", "v"); err != nil {
		t.Fatal(err)
	}
	if err := keyring.Delete(Service, "a.example"); err != nil { // deleted behind our back
		t.Fatal(err)
	}
	if existed, err := k.Remove("a.example"); err != nil || existed {
		t.Fatalf("Remove = %v, %v", existed, err)
	}
	if s, _ := k.Servers(); len(s) != 0 {
		t.Fatalf("Servers = %v, want none", s)
	}
}

func TestTooLarge(t *testing.T) {
	k := mocked(t)
	err := k.Put("a.example", strings.Repeat("x", MaxValueLen+1))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put of %d bytes: %v", MaxValueLen+1, err)
	}
	if _, err := k.Get("a.example"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("something was stored: %v", err)
	}
	if err := k.Put("a.example", strings.Repeat("x", MaxValueLen)); err != nil {
		t.Fatalf("Put of exactly MaxValueLen: %v", err)
	}
}

func TestIndexPages(t *testing.T) {
	k := mocked(t)
	var want []string
	for i := range 300 {
		server := fmt.Sprintf("registry-%03d.some-long-domain-name.example.com:5000", i)
		want = append(want, server)
		if err := k.Put(server, "v"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := k.Servers()
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Servers: %d servers, %v", len(got), err)
	}
	pages := 0
	for ; ; pages++ {
		v, err := keyring.Get(IndexService, strconv.Itoa(pages))
		if err != nil {
			break
		}
		if len(v) > MaxValueLen {
			t.Fatalf("index page %d has %d bytes", pages, len(v))
		}
	}
	if pages < 2 {
		t.Fatalf("%d index pages for 300 servers, want several", pages)
	}
	for _, server := range want[1:] {
		if _, err := k.Remove(server); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := k.Servers(); !slices.Equal(got, want[:1]) {
		t.Fatalf("Servers after removals = %v", got)
	}
	if _, err := keyring.Get(IndexService, "1"); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("stale index page 1 left behind: %v", err)
	}
}

func TestConcurrentPuts(t *testing.T) {
	keyring.MockInit()
	dir := t.TempDir()
	var wg sync.WaitGroup
	var want []string
	for i := range 20 {
		server := fmt.Sprintf("r%02d.example", i)
		want = append(want, server)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A Keychain each, as two processes would have.
			k := New(Options{Backend: OSKeyring{SkipBusCheck: true}, LockDir: dir})
			if err := k.Put(server, "v"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := New(Options{Backend: OSKeyring{SkipBusCheck: true}, LockDir: dir}).Servers()
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Servers = %v, %v; want all %d", got, err, len(want))
	}
}

func TestCorruptIndex(t *testing.T) {
	k := mocked(t)
	if err := keyring.Set(IndexService, "0", "{not json"); err != nil {
		t.Fatal(err)
	}
	_, err := k.Servers()
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), IndexService) {
		t.Fatalf("Servers with a corrupt index: %v", err)
	}
}

func TestBackendErrorsNameTheCause(t *testing.T) {
	tests := []struct {
		backendErr error
		kind       error
		hint       string
	}{
		{errors.New("The name org.freedesktop.secrets was not provided by any .service files"), ErrNoSecretService, "gnome-keyring"},
		{errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"), ErrLocked, "unlock"},
		{errors.New("dial unix /run/user/1000/bus: connect: no such file or directory"), ErrNoSessionBus, "session bus"},
		{errors.New("Message recipient disconnected from message bus without replying"), ErrNoSecretService, "stopped in the middle of the call"},
		{keyring.ErrSetDataTooBig, ErrTooLarge, ""},
		{keyring.ErrUnsupportedPlatform, ErrUnsupported, ""},
	}
	for _, tt := range tests {
		keyring.MockInitWithError(tt.backendErr)
		k := New(Options{Backend: OSKeyring{SkipBusCheck: true}, LockDir: t.TempDir()})
		for name, call := range map[string]func() error{
			"Get":     func() error { _, err := k.Get("a.example"); return err },
			"Put":     func() error { return k.Put("a.example", "v") },
			"Remove":  func() error { _, err := k.Remove("a.example"); return err },
			"Servers": func() error { _, err := k.Servers(); return err },
		} {
			err := call()
			if !errors.Is(err, tt.kind) {
				t.Errorf("%s with %q: %v, want %v", name, tt.backendErr, err, tt.kind)
				continue
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "keyring: ") || !strings.Contains(msg, tt.hint) {
				t.Errorf("%s with %q: message %q lacks context or hint %q", name, tt.backendErr, msg, tt.hint)
			}
		}
	}
}

// hangingBackend never answers.
type hangingBackend struct{ release chan struct{} }

func (h hangingBackend) Set(string, string, string) error   { <-h.release; return nil }
func (h hangingBackend) Get(string, string) (string, error) { <-h.release; return "", nil }
func (h hangingBackend) Delete(string, string) error        { <-h.release; return nil }

func TestTimeout(t *testing.T) {
	h := hangingBackend{release: make(chan struct{})}
	defer close(h.release)
	k := New(Options{Backend: h, Timeout: 100 * time.Millisecond, LockDir: t.TempDir()})
	start := time.Now()
	_, err := k.Get("a.example")
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "100ms") || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("Get on a hung keyring: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("timeout took %s", d)
	}
	if err := k.Put("a.example", "v"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Put on a hung keyring: %v", err)
	}
}

func TestIndexLockTimeout(t *testing.T) {
	keyring.MockInit()
	dir := t.TempDir()
	unlock, err := filelock.Lock(dir+"/"+lockFileName, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	k := New(Options{Backend: OSKeyring{SkipBusCheck: true}, LockDir: dir, Timeout: 100 * time.Millisecond})
	err = k.Put("a.example", "v")
	if !errors.Is(err, filelock.ErrTimeout) || !strings.Contains(err.Error(), "index lock") {
		t.Fatalf("Put while another process holds the lock: %v", err)
	}
}

func TestNoSessionBusFailsFast(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("no D-Bus on " + runtime.GOOS)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	// The real OS keyring, as in production: the check must come before
	// go-keyring's D-Bus library gets a chance to start anything.
	k := New(Options{LockDir: t.TempDir()})
	for name, call := range map[string]func() error{
		"Get":     func() error { _, err := k.Get("a.example"); return err },
		"Put":     func() error { return k.Put("a.example", "v") },
		"Remove":  func() error { _, err := k.Remove("a.example"); return err },
		"Servers": func() error { _, err := k.Servers(); return err },
	} {
		start := time.Now()
		err := call()
		if d := time.Since(start); d >= time.Second {
			t.Errorf("%s took %s, want < 1s", name, d)
		}
		if !errors.Is(err, ErrNoSessionBus) {
			t.Fatalf("%s: %v, want ErrNoSessionBus", name, err)
		}
		for _, want := range []string{"DBUS_SESSION_BUS_ADDRESS is not set", "dbus-run-session", "gnome-keyring-daemon --unlock", "never starts daemons"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: message %q lacks %q", name, err, want)
			}
		}
	}
}

func TestDefaultLockDir(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got, want := DefaultLockDir(), "/run/user/1000/"+Service; got != want && runtime.GOOS != "windows" {
		t.Errorf("DefaultLockDir() = %q, want %q", got, want)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if got, want := DefaultLockDir(), "/xdg/"+Service; got != want && runtime.GOOS != "windows" {
		t.Errorf("DefaultLockDir() = %q, want %q", got, want)
	}
}

func TestLockServer(t *testing.T) {
	k := mocked(t)
	unlock, err := k.LockServer("registry.example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The same server, from another Keychain (another helper), waits.
	other := New(Options{Backend: OSKeyring{SkipBusCheck: true}, LockDir: k.lockDir})
	if _, err := other.LockServer("registry.example.com", 50*time.Millisecond); !errors.Is(err, filelock.ErrTimeout) ||
		!strings.Contains(err.Error(), "registry.example.com") {
		t.Fatalf("second LockServer of one server: %v, want a timeout naming the server", err)
	}
	// Other servers, the index and Put do not.
	for _, server := range []string{"registry.example.com:5000", "localhost:5000", "https://index.docker.io/v1/", "[::1]:5000"} {
		u, err := other.LockServer(server, 0)
		if err != nil {
			t.Fatalf("LockServer(%s) while registry.example.com is locked: %v", server, err)
		}
		u()
	}
	if err := other.Put("registry.example.com", "v"); err != nil {
		t.Fatalf("Put while the server is locked: %v", err)
	}
	unlock()
	u, err := other.LockServer("registry.example.com", 0)
	if err != nil {
		t.Fatalf("LockServer after unlock: %v", err)
	}
	u()
}

func TestServerLockPath(t *testing.T) {
	lockDir := filepath.Join(t.TempDir(), "run")
	k := New(Options{LockDir: lockDir})
	seen := map[string]bool{}
	for _, server := range []string{"registry.example.com", "localhost:5000", "localhost_5000", "[::1]:5000",
		"https://index.docker.io/v1/", strings.Repeat("a", 250) + ".example.com"} {
		p := k.ServerLockPath(server)
		dir, base := filepath.Dir(p), filepath.Base(p)
		if dir != lockDir || !strings.HasPrefix(base, "server-") || !strings.HasSuffix(base, ".lock") || len(base) > 100 ||
			strings.ContainsAny(base, `:/\[]`) {
			t.Errorf("ServerLockPath(%q) = %q", server, p)
		}
		if seen[p] {
			t.Errorf("ServerLockPath(%q) = %q, taken by another server", server, p)
		}
		seen[p] = true
		if k.ServerLockPath(server) != p {
			t.Errorf("ServerLockPath(%q) is not stable", server)
		}
	}
	if got := k.ServerLockPath("localhost:5000"); !strings.HasPrefix(got, filepath.Join(lockDir, "server-localhost_5000-")) {
		t.Errorf("ServerLockPath(localhost:5000) = %q", got)
	}
}

func TestUpdate(t *testing.T) {
	k := mocked(t)
	called := false
	if ok, err := k.Update("a.example", func(string) (string, bool) { called = true; return "x", true }); ok || err != nil || called {
		t.Fatalf("Update of nothing = %v, %v (f called: %v); want false, nil, not called", ok, err, called)
	}
	if _, err := k.Get("a.example"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update of nothing stored something: %v", err)
	}
	if err := k.Put("a.example", "1"); err != nil {
		t.Fatal(err)
	}
	if ok, err := k.Update("a.example", func(v string) (string, bool) { return v + "2", false }); ok || err != nil {
		t.Fatalf("Update declined = %v, %v", ok, err)
	}
	if ok, err := k.Update("a.example", func(v string) (string, bool) { return v + "2", true }); !ok || err != nil {
		t.Fatalf("Update = %v, %v", ok, err)
	}
	if v, _ := k.Get("a.example"); v != "12" {
		t.Fatalf("after Update: %q", v)
	}
	if _, err := k.Update("a.example", func(string) (string, bool) { return strings.Repeat("x", MaxValueLen+1), true }); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Update too large: %v", err)
	}
	// Every Update and Put holds the index lock: none is lost.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := k.Update("a.example", func(v string) (string, bool) { return v + "+", true }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v, _ := k.Get("a.example"); v != "12"+strings.Repeat("+", 20) {
		t.Fatalf("after 20 concurrent Updates: %q", v)
	}
}
