package credhelper_test

import (
	"context"
	"strings"
	"testing"

	"github.com/portusproject/portus/helper/portusclient"
	"github.com/portusproject/portus/shared/apptoken"
)

func TestEraseRevokesAndIsIdempotent(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	for range 3 {
		if err := e.helper().Delete(e.registry); err != nil {
			t.Fatal(err)
		}
	}
	if toks := e.portus.Tokens("alice"); len(toks) != 0 {
		t.Fatal("token not revoked")
	}
	e.notFound(e.registry)
	if got := e.list(); len(got) != 0 {
		t.Fatalf("list = %v", got)
	}
	if e.stderr.String() != "" {
		t.Fatalf("erase printed %q", e.stderr)
	}
	// Erasing what was never stored is fine too.
	if err := e.helper().Delete("never.example.com"); err != nil {
		t.Fatal(err)
	}
}

func TestEraseWhenAlreadyRevoked(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	user, token := e.mustGet(e.registry)
	// Revoked elsewhere (the profile page, say) before docker logout.
	c, err := portusclient.New(e.portus.URL(), portusclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeCurrent(context.Background(), user, token); err != nil {
		t.Fatal(err)
	}
	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatal(err)
	}
	e.notFound(e.registry)
	if e.stderr.String() != "" {
		t.Fatalf("erase of an already revoked token printed %q", e.stderr)
	}
}

func TestEraseWithPortusUnreachable(t *testing.T) {
	e := newEnv(t)
	e.mustStore(e.registry, "alice", password)
	_, token := e.mustGet(e.registry)
	e.portus.Portus.Close()

	if err := e.helper().Delete(e.registry); err != nil {
		t.Fatalf("erase with the server down: %v", err)
	}
	e.notFound(e.registry)
	if got := e.list(); len(got) != 0 {
		t.Fatalf("list = %v", got)
	}
	msg := e.stderr.String()
	t.Logf("stderr: %s", msg)
	for _, want := range []string{"warning: could not revoke", tokenName, apptoken.Redact(token), `"alice"`,
		"remains valid", e.portus.URL() + "/profile", "cannot reach Portus"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr %q lacks %q", msg, want)
		}
	}
	e.noSecrets()
}
