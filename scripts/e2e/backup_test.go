package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portusproject/portus/shared/apitypes"
)

// TestBackupWhileServing takes a backup while tokens are being created,
// then starts a server on the copy: every token acknowledged before the
// backup began works there.
func TestBackupWhileServing(t *testing.T) {
	p := startPortus(t, "--max-tokens", "1000")
	p.createUser(t, "alice", "alice-password", false)
	before := p.createToken(t, "alice", "before-backup", "pull")

	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		created atomic.Int64
		first   = make(chan struct{})
		errc    = make(chan error, 1)
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load() && i < 500; i++ {
			var tok apitypes.CreatedToken
			code, err := p.call(http.MethodPost, "/api/v1/tokens", "alice", "alice-password",
				apitypes.CreateTokenRequest{Name: fmt.Sprintf("load-%d", i)}, &tok)
			if err != nil || code != http.StatusCreated {
				errc <- fmt.Errorf("creating token %d: status %d, %v", i, code, err)
				return
			}
			if created.Add(1) == 1 {
				close(first)
			}
		}
	}()
	backup := filepath.Join(t.TempDir(), "portus.db")
	var list []apitypes.Token // on the restored server
	phase(t, "backup while writing", func(t *testing.T) {
		// Back up once the writes are under way, so the copy races them.
		select {
		case <-first:
		case err := <-errc:
			t.Fatal(err)
		}
		p.portus(t, "", "backup", backup)
		stop.Store(true)
		wg.Wait()
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
		if info, err := os.Stat(backup); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("backup file: %v, mode %v", err, info.Mode().Perm())
		}
	})
	phase(t, "restore", func(t *testing.T) {
		restored := filepath.Join(t.TempDir(), "restored")
		if err := os.MkdirAll(restored, 0o700); err != nil {
			t.Fatal(err)
		}
		copyFile(t, backup, filepath.Join(restored, "portus.db"))
		copyFile(t, filepath.Join(p.Data, "pepper"), filepath.Join(restored, "pepper"))
		q := startPortusOn(t, restored)
		if code := registryTokenStatus(t, q, "alice", before, "repository:alice/app:pull"); code != http.StatusOK {
			t.Fatalf("a token from before the backup answered %d on the restored server", code)
		}
		if code := q.apiJSON(t, http.MethodGet, "/api/v1/tokens", "alice", "alice-password", nil, &list); code != http.StatusOK || len(list) < 1 {
			t.Fatalf("restored server lists %d tokens (status %d)", len(list), code)
		}
	})
	t.Logf("backup taken with %d tokens created around it; restored server lists %d", created.Load(), len(list))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
