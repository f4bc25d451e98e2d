package credhelper_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/helper/internal/fakeportus"
)

// aged stores alice's token and waits until it is older than rotate_after
// (1s).
func agedEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	e.config(map[string]any{"rotate_after": "1s"})
	e.mustStore(e.registry, "alice", password)
	_, token := e.mustGet(e.registry) // fresh: not rotated
	if e.portus.Rotations() != 0 {
		t.Fatal("a fresh token was rotated")
	}
	time.Sleep(1100 * time.Millisecond)
	return e, token
}

func TestGetRotatesAnOldToken(t *testing.T) {
	e, old := agedEnv(t)
	h := e.helper()
	user, token, err := h.Get(e.registry)
	if err != nil {
		t.Fatal(err)
	}
	if user != "alice" || token == old || e.portus.Rotations() != 1 {
		t.Fatalf("get after rotate_after: user %q, rotated %d times, new secret %v", user, e.portus.Rotations(), token != old)
	}
	toks := e.portus.Tokens("alice")
	if len(toks) != 1 || toks[0].Plain != token || toks[0].Name != tokenName {
		t.Fatalf("server holds %d tokens; want the one token %s with the new secret", len(toks), tokenName)
	}
	// The keyring holds the new secret: the next process gets it.
	if _, again := e.mustGet(e.registry); again != token {
		t.Error("the keyring does not hold the rotated secret")
	}
	// At most once per process, however old: h has rotated; a new
	// process rotates again.
	time.Sleep(1100 * time.Millisecond)
	if _, again, err := h.Get(e.registry); err != nil || again != token || e.portus.Rotations() != 1 {
		t.Fatalf("a second get of the same process: rotations = %d, want 1", e.portus.Rotations())
	}
	if _, next := e.mustGet(e.registry); next == token || e.portus.Rotations() != 2 {
		t.Fatalf("a new process after rotate_after: rotations = %d, want 2", e.portus.Rotations())
	}
	if e.stderr.String() != "" {
		t.Errorf("stderr: %q, want nothing", e.stderr.String())
	}
	e.noSecrets()
}

func TestGetKeepsTheTokenWhenRotationFails(t *testing.T) {
	for _, c := range []struct {
		name string
		fail func(e *env)
	}{
		{"server down", func(e *env) { e.portus.Portus.Close() }},
		{"server error", func(e *env) {
			e.portus.Fail(&fakeportus.Failure{Status: http.StatusInternalServerError, Message: "disk full"})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, old := agedEnv(t)
			c.fail(e)
			h := e.helper()
			for range 3 {
				user, token, err := h.Get(e.registry)
				if err != nil || user != "alice" || token != old {
					t.Fatalf("get with rotation failing: %v, new secret %v; want the stored token", err, token != old)
				}
			}
			warnings := strings.Count(e.stderr.String(), "warning:")
			if warnings != 1 || !strings.Contains(e.stderr.String(), "could not be rotated") {
				t.Errorf("stderr %q: want exactly one warning that the rotation failed", e.stderr.String())
			}
			e.noSecrets()
		})
	}
}

func TestRotationOffByDefault(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	_, old := e.mustGet(e.registry)
	if _, token := e.mustGet(e.registry); token != old || e.portus.Rotations() != 0 {
		t.Error("rotated without rotate_after")
	}
	e.config(map[string]any{"rotate_after": "soon"})
	if _, token := e.mustGet(e.registry); token != old {
		t.Error("a bad rotate_after rotated")
	}
}

// TestGetRotatesAnIdentityToken: docker login's identity token, whose
// server the helper knows, is rotated too (with Bearer: the owner may be
// unknown).
func TestGetRotatesAnIdentityToken(t *testing.T) {
	e := newEnv(t)
	e.config(map[string]any{"rotate_after": "1s"})
	identity := e.portus.IssueLoginToken("alice")
	e.mustStore(e.registry, "<token>", identity)
	time.Sleep(1100 * time.Millisecond)
	_, token := e.mustGet(e.registry)
	if token == identity || e.portus.Rotations() != 1 {
		t.Fatalf("identity token not rotated (rotations %d)", e.portus.Rotations())
	}
	if toks := e.portus.Tokens("alice"); len(toks) != 1 || toks[0].Plain != token {
		t.Fatalf("server tokens after rotation: %d, want the one login token with the new secret", len(toks))
	}
	e.noSecrets()
}
