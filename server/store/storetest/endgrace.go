package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// A secret found within its grace is marked Retired (the live one is
// not), and EndRetiredGrace makes it a reuse at once, leaving the live
// secret alone.
func testEndRetiredGrace(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	at := now()
	r := rotation(tok, at, 10*time.Minute, 30*24*time.Hour)
	mustRotate(t, s, r)

	if old, _, err := s.SecretByHash(tok.Hash, at.Add(time.Minute)); err != nil || !old.Retired {
		t.Fatalf("SecretByHash(old, within grace) = Retired %v, %v; want a token marked Retired", old.Retired, err)
	}
	if live, _, err := s.SecretByHash(r.Hash, at.Add(time.Minute)); err != nil || live.Retired {
		t.Fatalf("SecretByHash(live) = Retired %v, %v; want the live token, not marked Retired", live.Retired, err)
	}
	if err := s.EndRetiredGrace(tok.Hash, at.Add(2*time.Minute)); err != nil {
		t.Fatalf("EndRetiredGrace: %v", err)
	}
	var reused *model.ReusedSecretError
	if _, _, err := s.SecretByHash(tok.Hash, at.Add(2*time.Minute)); !errors.As(err, &reused) || reused.TokenID != tok.ID {
		t.Fatalf("SecretByHash(old) after EndRetiredGrace = %v; want a *ReusedSecretError naming the token", err)
	}
	// An earlier end stays: ending it again later does not reopen it.
	if err := s.EndRetiredGrace(tok.Hash, at.Add(5*time.Minute)); err != nil {
		t.Fatalf("EndRetiredGrace again: %v", err)
	}
	if _, _, err := s.SecretByHash(tok.Hash, at.Add(3*time.Minute)); !errors.As(err, &reused) {
		t.Fatalf("SecretByHash(old) at 3m after a second, later end = %v; want the grace still ended at 2m", err)
	}
	if live, _, err := s.SecretByHash(r.Hash, at.Add(3*time.Minute)); err != nil || live.ID != tok.ID {
		t.Fatalf("SecretByHash(live) after EndRetiredGrace = %v; want the token", err)
	}
	if err := s.EndRetiredGrace(randomHash(), at); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("EndRetiredGrace(unknown hash) = %v, want ErrNotFound", err)
	}
}
