package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/internal/testserver"
)

// TestOpenAPIAdminSocket runs the admin socket's own routes (backup,
// import, the signing-key steps) on a real unix socket through the same
// validation as every other response.
func TestOpenAPIAdminSocket(t *testing.T) {
	s := start(t, testserver.Options{})
	h, err := app.AdminHandler(s.Core, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: validating(t, h)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	do := func(want int, method, path, body string) []byte {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = bytes.NewReader([]byte(body))
		}
		req, _ := http.NewRequest(method, "http://portus"+path, rd)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Errorf("%s %s = %d %s, want %d", method, path, resp.StatusCode, data, want)
		}
		return data
	}
	if b := do(http.StatusOK, http.MethodGet, "/admin/backup", ""); len(b) < 4096 {
		t.Errorf("backup of %d bytes", len(b))
	}
	do(http.StatusOK, http.MethodPost, "/admin/users/import",
		`{"users":[{"name":"carol","password_hash":"$2y$05$abcdefghijklmnopqrstuuBXcIXBMMyw/fCnDjDwGY6Y2ri7/8L.u"}],"dry_run":true}`)
	do(http.StatusOK, http.MethodGet, "/admin/signing-key", "")
	do(http.StatusConflict, http.MethodPost, "/admin/signing-key/activate", "")
	do(http.StatusOK, http.MethodPost, "/admin/signing-key/rotate", "")
	do(http.StatusOK, http.MethodPost, "/admin/signing-key/activate", "")
	do(http.StatusConflict, http.MethodPost, "/admin/signing-key/retire", "")
	do(http.StatusBadRequest, http.MethodPost, "/admin/signing-key/retire", "[")
	do(http.StatusOK, http.MethodPost, "/admin/signing-key/retire", `{"force":true}`)
	do(http.StatusOK, http.MethodGet, "/api/v1/users", "")
	do(http.StatusBadRequest, http.MethodGet, "/api/v1/user", "")
}
