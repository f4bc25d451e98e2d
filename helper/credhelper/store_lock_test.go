package credhelper_test

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/helper/internal/fakeportus"
	"github.com/portusproject/portus/helper/keychain"
	"github.com/portusproject/portus/shared/apptoken"
)

// startHeldLogin starts login A, alice's password to e.registry, and returns
// once the server has created its token but before the helper sees the
// answer: a second login can then run in the window that the per-server
// and per-Portus locks must close. release lets the answer through (also at
// the test's end); errA receives login A's result.
func startHeldLogin(e *env) (errA chan error, release func()) {
	e.t.Helper()
	firstCreated := make(chan struct{})
	held := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(held) }) }
	e.t.Cleanup(release)
	e.portus.OnCreate(func(n int, _ fakeportus.Token) {
		if n == 1 { // login A's token: hold its answer
			close(firstCreated)
			<-held
		}
	})
	errA = make(chan error, 1)
	go func() { errA <- e.store(e.registry, "alice", password) }()
	select {
	case <-firstCreated:
	case err := <-errA:
		e.t.Fatalf("login A ended before creating a token: %v", err)
	case <-time.After(10 * time.Second):
		e.t.Fatal("login A created no token")
	}
	return errA, release
}

// waitLogins waits for logins A and B and reports their errors.
func waitLogins(t *testing.T, errA, errB chan error) {
	t.Helper()
	for name, ch := range map[string]chan error{"A": errA, "B": errB} {
		if err := <-ch; err != nil {
			t.Errorf("login %s: %v", name, err)
		}
	}
}

func TestConcurrentStores(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	want := map[string]string{}
	for i := range 8 {
		server := fmt.Sprintf("registry-%d.example.com", i)
		want[server] = "<token>"
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.store(server, "<token>", "identity-"+server); err != nil {
				t.Error(err)
			}
		}()
	}
	// A real exchange at the same time as well.
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := e.store(e.registry, "alice", password); err != nil {
			t.Error(err)
		}
	}()
	want[e.registry] = "alice"
	wg.Wait()
	if got := e.list(); !maps.Equal(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
}

// TestConcurrentStoresSameServer: two logins to one registry at once. Login
// A's token T1 is created, but A sees the answer only after login B has
// created T2 (which replaced, so revoked, T1) and stored it. Without the
// per-server lock A then writes the dead T1 over T2.
func TestConcurrentStoresSameServer(t *testing.T) {
	e := newEnv(t)
	errA, releaseA := startHeldLogin(e)
	errB := make(chan error, 1)
	go func() { errB <- e.store(e.registry, "alice", password) }()
	// Without the lock, B completes now. With it, B waits for A.
	bFirst := false
	select {
	case err := <-errB:
		bFirst = true
		errB <- err
	case <-time.After(300 * time.Millisecond):
	}
	releaseA()
	waitLogins(t, errA, errB)
	_, token := e.mustGet(e.registry)
	toks := e.portus.Tokens("alice")
	if len(toks) != 1 || toks[0].Plain != token {
		t.Fatalf("the keyring holds %s, the server %d live tokens (login B finished first: %v): the keyring must end with the token the server still accepts",
			apptoken.Redact(token), len(toks), bFirst)
	}
}

func TestStoreAndEraseHoldServerLock(t *testing.T) {
	e := newEnv(t)
	kc := keychain.New(keychain.Options{Backend: e.backend, LockDir: e.lockDir})
	holdLock := func(action string, f func() error) {
		t.Helper()
		unlock, err := kc.LockServer(e.registry, 0)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			unlock()
			t.Fatalf("%s ran while another helper held the lock of %s (err %v)", action, e.registry, err)
		case <-time.After(200 * time.Millisecond):
		}
		unlock()
		if err := <-done; err != nil {
			t.Fatalf("%s after the lock was released: %v", action, err)
		}
	}
	holdLock("store", func() error { return e.store(e.registry, "alice", password) })
	holdLock("erase", func() error { return e.helper().Delete("https://" + e.registry + "/") })
	e.notFound(e.registry)
	// Other servers do not wait for it.
	unlock, err := kc.LockServer(e.registry, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	e.mustStore("other.example.com", "<token>", "identity")
}

// TestConcurrentStoresTwoRegistriesOnePortus: two logins at once to two
// registries of one Portus server. The first one's token is created but its
// answer held back; the second login must not make its token meanwhile
// (that would revoke the first's), and both registries end with the token
// the server accepts.
func TestConcurrentStoresTwoRegistriesOnePortus(t *testing.T) {
	e := newEnv(t)
	other := "registry2.example.com"
	e.config(map[string]any{"registries": map[string]any{other: map[string]any{"portus": e.portus.URL()}}})
	errA, releaseA := startHeldLogin(e)
	errB := make(chan error, 1)
	go func() { errB <- e.store(other, "alice", password) }()
	select {
	case err := <-errB:
		errB <- err
		t.Error("login B to another registry of the same Portus server made its token while login A was making one")
	case <-time.After(300 * time.Millisecond):
	}
	releaseA()
	waitLogins(t, errA, errB)
	toks := e.portus.Tokens("alice")
	for _, reg := range []string{e.registry, other} {
		if _, tok := e.mustGet(reg); len(toks) != 1 || tok != toks[0].Plain {
			t.Errorf("%s holds %s; the server has %d live tokens: want the live one", reg, apptoken.Redact(tok), len(toks))
		}
	}
	if got := e.list(); !maps.Equal(got, map[string]string{e.registry: "alice", other: "alice"}) {
		t.Fatalf("list = %v", got)
	}
}
