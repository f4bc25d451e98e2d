package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	c := config.Defaults()
	c.Data = filepath.Join(t.TempDir(), "data")
	c.Listen = "127.0.0.1:0"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// pepperPath is where a bbolt data directory keeps the token pepper.
func pepperPath(c config.Config) string { return filepath.Join(c.Data, model.SecretPepper) }

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

var cheap = account.Options{PasswordParams: testserver.CheapParams}

func TestOpenCoreCreatesPrivateFiles(t *testing.T) {
	c := testConfig(t)
	core, err := app.OpenCore(c, cheap)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{c.Data: 0o700, c.DBPath(): 0o600, pepperPath(c): 0o600} {
		if m := mode(t, path); m != want {
			t.Errorf("%s has mode %o, want %o", filepath.Base(path), m, want)
		}
	}
	pepper, err := os.ReadFile(pepperPath(c))
	if err != nil || len(pepper) != 32 {
		t.Fatalf("pepper: %d bytes, %v", len(pepper), err)
	}
	if _, err := core.Accounts.CreateUser(account.Actor{Name: "t"}, "alice", "alice-password", false, false); err != nil {
		t.Fatal(err)
	}
	tok, err := core.Accounts.CreateToken(account.Actor{Name: "t"}, "alice", account.NewToken{Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening keeps the pepper (tokens stay valid) and tightens modes
	// that were loosened.
	if err := os.Chmod(c.Data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c.DBPath(), 0o644); err != nil {
		t.Fatal(err)
	}
	core, err = app.OpenCore(c, cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	if m := mode(t, c.Data); m != 0o700 {
		t.Errorf("data dir reopened with mode %o", m)
	}
	if m := mode(t, c.DBPath()); m != 0o600 {
		t.Errorf("database reopened with mode %o", m)
	}
	again, _ := os.ReadFile(pepperPath(c))
	if string(again) != string(pepper) {
		t.Error("the pepper changed on reopen")
	}
	if _, err := core.Accounts.AuthenticateToken("alice", tok.Token, ""); err != nil {
		t.Errorf("token after reopen: %v", err)
	}
}

func TestOpenCoreRefusesShortPepper(t *testing.T) {
	c := testConfig(t)
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pepperPath(c), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := app.OpenCore(c, cheap); err == nil || !strings.Contains(err.Error(), "pepper") {
		t.Fatalf("OpenCore with a 5-byte pepper: %v", err)
	}
}

func TestOpenCoreTwiceFailsFast(t *testing.T) {
	c := testConfig(t)
	core, err := app.OpenCore(c, cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	done := make(chan error, 1)
	go func() {
		second, err := app.OpenCore(c, cheap)
		if err == nil {
			second.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "in use by another portus process") {
			t.Fatalf("second OpenCore: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second OpenCore still waiting for the lock after 5 s")
	}
}

// TestServe runs the real server in process: admin socket mode, health,
// and at shutdown the batched last-used times reach the database.
func TestServe(t *testing.T) {
	c := testConfig(t)
	c.FlushInterval = 60 * time.Second // no periodic flush during the test
	core, err := app.OpenCore(c, cheap)
	if err != nil {
		t.Fatal(err)
	}
	core.Accounts.CreateUser(account.Actor{Name: "t"}, "alice", "alice-password", false, false)
	tok, err := core.Accounts.CreateToken(account.Actor{Name: "t"}, "alice", account.NewToken{Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	core.Close()

	logs := &testutil.LockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, c, log, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Serve returned early: %v\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatal("Serve not ready after 20 s")
	}
	if m := mode(t, c.SocketPath()); m != 0o600 {
		t.Errorf("admin socket has mode %o, want 600", m)
	}
	base := "http://" + addr.String()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/tokens", nil)
	req.SetBasicAuth("alice", tok.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("token request %d", resp.StatusCode)
	}
	// The admin socket answers as an administrator.
	uc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", c.SocketPath())
	}}}
	resp, err = uc.Get("http://portus/api/v1/users")
	if err != nil {
		t.Fatal(err)
	}
	var users []apitypes.User
	json.NewDecoder(resp.Body).Decode(&users)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(users) != 1 || users[0].Name != "alice" {
		t.Errorf("users over the admin socket: %d %+v", resp.StatusCode, users)
	}
	uc.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop within 10 s of the cancel")
	}
	if _, err := os.Stat(c.SocketPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket left behind: %v", err)
	}
	core, err = app.OpenCore(c, cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	list, err := core.Accounts.Tokens("alice")
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil {
		t.Fatalf("after shutdown: %+v, %v; want last_used_at set", list, err)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	c := testConfig(t)
	c.URL = "localhost:3000"
	err := app.Serve(context.Background(), c, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), "--url") {
		t.Fatalf("Serve with a bad URL: %v", err)
	}
	if _, err := os.Stat(c.Data); !errors.Is(err, os.ErrNotExist) {
		t.Error("a bad configuration still created the data directory")
	}
}
