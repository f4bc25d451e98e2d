package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/shared/apitypes"
)

// adminClient calls the JSON API as the local administrator.
type adminClient struct {
	http  *http.Client
	close func() error
}

// connect reaches the running server over its admin socket or, when no
// server runs, opens the data directory and serves the API in memory.
// Only init may create a new data directory (the first `user create` of an
// installation); for any other command a missing database means a wrong
// --data, which must not silently produce an empty one.
func connect(c config.Config, stderr io.Writer, init bool) (*adminClient, error) {
	sock := c.SocketPath()
	// Before a byte goes out (a new user's password, say): another user's
	// socket could be a listener of theirs.
	if err := app.CheckAdminSocket(sock); err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err == nil {
		conn.Close()
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		return &adminClient{
			http:  &http.Client{Transport: &http.Transport{DialContext: dial}, Timeout: 30 * time.Second},
			close: func() error { return nil },
		}, nil
	}
	if errors.Is(err, syscall.EACCES) {
		return nil, fmt.Errorf("permission denied on the admin socket %s: run this command as the user that runs portus serve", sock)
	}
	// No server answers (no socket, or one left by a server that died):
	// use the database directly. The lock tells us if a server has it
	// after all.
	if _, err := os.Stat(c.DBPath()); err != nil && !init && !c.UsesEtcd() {
		return nil, fmt.Errorf("no Portus database in %s (%v): give --data (or PORTUS_DATA) the directory that portus serve uses", c.Data, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	core, err := app.OpenCore(c, account.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	h, err := app.AdminHandler(core, log)
	if err != nil {
		core.Close()
		return nil, err
	}
	return &adminClient{
		http:  &http.Client{Transport: handlerTransport{h}},
		close: core.Close,
	}, nil
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out. A non-2xx answer becomes an error with the server's message.
func (a *adminClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://portus"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("talking to the server: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e apitypes.Error
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return errors.New(e.Message)
		}
		return fmt.Errorf("server answered %s", resp.Status)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// handlerTransport serves requests with an in-process handler. The
// recorder's Result carries the trailers the handler announced (the backup
// status) as a network response would.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, req)
	resp := w.Result()
	resp.Request = req
	return resp, nil
}
