package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
)

// mountOrSkip runs mount with args; when the machine does not allow it
// (not root, no CAP_SYS_ADMIN, a locked-down container) the test is
// skipped with the reason. The in-process twin in server/api
// (TestStoreUnavailableAnswers503, an injected store error) runs
// everywhere.
func mountOrSkip(t *testing.T, target string, args ...string) {
	t.Helper()
	out, err := exec.Command("mount", append(args, target)...).CombinedOutput()
	if err != nil {
		t.Skipf("mount %s not possible here (%v: %s); the injected-error test in server/api covers the 503", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", target).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", target, err, out)
			exec.Command("umount", "-l", target).Run()
		}
	})
}

// fillDisk writes a file in dir until the file system is full and returns
// its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, size := range []int{1 << 20, 64 << 10, 4 << 10, 1} {
		chunk := make([]byte, size)
		for {
			if _, err := f.Write(chunk); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling the disk: %v", err)
				}
				break
			}
		}
	}
	return path
}

// TestDiskFull runs the server with its data directory on a real 16 MiB
// tmpfs, fills the file system, and checks that writes get 503 with a
// message that says what is wrong, reads go on, nothing acknowledged is
// lost, and the server recovers once space is freed — also across a
// restart.
func TestDiskFull(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	mountOrSkip(t, mnt, "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs")
	t.Log("disk full: a real tmpfs (mount -t tmpfs -o size=16m) filled to ENOSPC")
	data := filepath.Join(mnt, "data")
	const pw = "alice-password-1"
	offlinePortus(t, data, pw+"\n", "user", "create", "alice", "--password-stdin")
	offlinePortus(t, data, "root-password-1\n", "user", "create", "root", "--admin", "--password-stdin")
	p := startPortusOn(t, data, "--max-tokens", "100000", "--flush-interval", "1s")
	client, sock := newSrvClient(), adminSocketClient(data)
	defer client.CloseIdleConnections()
	defer sock.CloseIdleConnections()

	type acked struct{ id, plain string }
	var (
		live    []acked
		revoked []acked
	)
	create := func(t *testing.T, c *http.Client, base, name string, auth bool) srvReply {
		t.Helper()
		q := srvReq{method: http.MethodPost, url: base + "/api/v1/users/alice/tokens", body: apitypes.CreateTokenRequest{Name: name, Scope: "pull"}}
		if auth {
			q.url, q.user, q.pass = base+apitypes.TokensPath, "alice", pw
		}
		r, err := q.do(c)
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
		if r.status == http.StatusCreated {
			var tok apitypes.CreatedToken
			if err := json.Unmarshal(r.body, &tok); err != nil || tok.Token == "" {
				t.Fatalf("creating %s: %s", name, r)
			}
			live = append(live, acked{tok.ID, tok.Token})
		}
		return r
	}
	const wantMessage = "disk full"
	var (
		filler  string
		full    srvReply // the first 503
		refused []string // names of the creations refused with 503
	)
	phase(t, "writes before the disk is full", func(t *testing.T) {
		for i := range 5 {
			if r := create(t, client, p.URL, fmt.Sprintf("before-%d", i), true); r.status != http.StatusCreated {
				t.Fatalf("before the disk is full: %s", r)
			}
		}
		if r, err := (srvReq{method: http.MethodDelete, url: p.URL + apitypes.CurrentTokenPath, user: "alice", pass: live[0].plain}).do(client); err != nil || r.status != http.StatusNoContent {
			t.Fatalf("revoking before the disk is full: %v %s", err, r)
		}
		revoked, live = append(revoked, live[0]), live[1:]
	})
	phase(t, "filling the disk", func(t *testing.T) {
		filler = fillDisk(t, mnt)
		// bbolt reuses free pages inside its file, so the first writes may
		// still fit; keep writing (over the admin socket: no password hashing)
		// until one does not.
		for i := 0; ; i++ {
			r := create(t, sock, adminSocketURL, fmt.Sprintf("filling-%d", i), false)
			if r.status == http.StatusServiceUnavailable {
				full = r
				break
			}
			if r.status != http.StatusCreated {
				t.Fatalf("creating while the disk fills: %s", r)
			}
			if i == 5000 {
				t.Fatal("5000 tokens created on a full disk without a single 503")
			}
		}
		t.Logf("the disk is full: %d tokens acknowledged before the first 503", len(live))
		if !strings.Contains(full.message(), wantMessage) {
			t.Errorf("503 message %q does not say %q", full.message(), wantMessage)
		}
	})
	phase(t, "writes on the full disk", func(t *testing.T) {
		// Every kind of write over the public API: 503 with the message (or,
		// where bbolt still finds a free page, success), never another status.
		for i := range 3 {
			name := fmt.Sprintf("while-full-%d", i)
			switch r := create(t, client, p.URL, name, true); r.status {
			case http.StatusServiceUnavailable:
				refused = append(refused, name)
				if !strings.Contains(r.message(), wantMessage) {
					t.Errorf("POST /api/v1/tokens on a full disk: %s", r)
				}
			case http.StatusCreated:
			default:
				t.Errorf("POST /api/v1/tokens on a full disk: %s, want 503", r)
			}
		}
		if len(refused) == 0 {
			t.Error("no token creation over the public API was refused with 503 on the full disk")
		}
		victim := live[len(live)-1]
		switch r, err := (srvReq{method: http.MethodDelete, url: p.URL + apitypes.CurrentTokenPath, user: "alice", pass: victim.plain}).do(client); {
		case err != nil:
			t.Fatal(err)
		case r.status == http.StatusNoContent:
			revoked, live = append(revoked, victim), live[:len(live)-1]
		case r.status != http.StatusServiceUnavailable || !strings.Contains(r.message(), wantMessage):
			t.Errorf("revoking on a full disk: %s, want 503", r)
		}
		if r, err := (srvReq{method: http.MethodPost, url: p.URL + "/api/v1/users", user: "root", pass: "root-password-1",
			body: apitypes.CreateUserRequest{Name: "carol", Password: "carol-password-1"}}).do(client); err != nil || (r.status != http.StatusServiceUnavailable && r.status != http.StatusCreated) {
			t.Errorf("creating a user on a full disk: %v %s, want 503", err, r)
		}
	})
	phase(t, "reads on the full disk", func(t *testing.T) {
		// Reads go on: health, the token list, JWTs for every live token.
		if r, err := (srvReq{method: http.MethodGet, url: p.URL + "/healthz"}).do(client); err != nil || r.status != http.StatusOK {
			t.Errorf("healthz on a full disk: %v %s", err, r)
		}
		for _, tok := range live {
			if r, err := (srvReq{method: http.MethodGet, url: registryTokenURL(p.URL), user: "alice", pass: tok.plain}).do(client); err != nil || r.status != http.StatusOK {
				t.Fatalf("/v2/token with an acknowledged token on a full disk: %v %s", err, r)
			}
		}
		if !strings.Contains(p.log.String(), "no space left on device") {
			t.Error("the server log does not say the disk is full")
		}
	})
	phase(t, "space again", func(t *testing.T) {
		// Space again: writes work at once, and after a restart nothing
		// acknowledged is lost and nothing refused appeared.
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if r := create(t, client, p.URL, "after-full", true); r.status != http.StatusCreated {
			t.Fatalf("creating a token once space is free: %s", r)
		}
	})
	p.Stop(t)
	if code := p.proc.ExitCode(); code != 0 {
		t.Errorf("portus serve exited %d after SIGTERM", code)
	}
	if problems := checkBolt(t, filepath.Join(data, "portus.db")); len(problems) > 0 {
		t.Fatalf("the bbolt file fails its check after the disk was full:\n%s", joinProblems(problems))
	}
	p = startPortusOn(t, data)
	phase(t, "nothing acknowledged is lost after a restart", func(t *testing.T) {
		var list []apitypes.Token
		if code := p.apiJSON(t, http.MethodGet, "/api/v1/tokens", "alice", pw, nil, &list); code != http.StatusOK {
			t.Fatalf("listing after the restart: %d", code)
		}
		stored := map[string]apitypes.Token{}
		for _, tok := range list {
			stored[tok.ID] = tok
			stored[tok.Name] = tok
		}
		for _, name := range refused {
			if _, ok := stored[name]; ok {
				t.Errorf("%s was refused with 503 but is stored", name)
			}
		}
		for _, tok := range live {
			if _, ok := stored[tok.id]; !ok {
				t.Errorf("acknowledged token %s is lost", tok.id)
			}
			if code := registryTokenStatus(t, p, "alice", tok.plain, "repository:alice/app:pull"); code != http.StatusOK {
				t.Errorf("acknowledged token %s after the restart: %d", tok.id, code)
			}
		}
		for _, tok := range revoked {
			if _, ok := stored[tok.id]; ok {
				t.Errorf("revoked token %s is back", tok.id)
			}
		}
	})
	t.Logf("disk full: %d acknowledged tokens and %d acknowledged revocations intact after the restart; %d creations refused with 503: %q",
		len(live), len(revoked), len(refused), full.message())
}

// TestReadOnlyDataDirectory starts the server on a read-only bind mount of
// a data directory: it refuses to start, at once, with a message that says
// why, and the data is untouched for a start on a writable path.
func TestReadOnlyDataDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	offlinePortus(t, data, "alice-password-1\n", "user", "create", "alice", "--password-stdin")
	tok := strings.TrimSpace(offlinePortus(t, data, "", "token", "create", "--user", "alice", "--name", "ci"))
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o700); err != nil {
		t.Fatal(err)
	}
	mountOrSkip(t, ro, "--bind", data)
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", ro).CombinedOutput(); err != nil {
		t.Skipf("remounting the bind mount read-only is not possible here: %v %s", err, out)
	}
	t.Log("read-only data directory: a real read-only bind mount")
	start := time.Now()
	cmd := exec.Command(bin.portus, "serve", "--data", ro, "--listen", fmt.Sprintf("localhost:%d", testutil.Port(t)))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("portus serve on a read-only data directory: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "read-only file system") {
		t.Errorf("portus serve on a read-only data directory said %q", out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("portus serve took %s to give up", d)
	}
	p := startPortusOn(t, data)
	if code := registryTokenStatus(t, p, "alice", tok, "repository:alice/app:pull"); code != http.StatusOK {
		t.Errorf("the token after the read-only attempt: %d", code)
	}
}
