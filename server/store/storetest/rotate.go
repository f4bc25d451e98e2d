package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

var rotationTests = []subtest{
	{"KeepsTheSlot", testRotateKeepsSlot},
	{"OldSecretWithinAndAfterGrace", testRotateGrace},
	{"ZeroGrace", testRotateZeroGrace},
	{"CompareAndSwap", testRotateCompareAndSwap},
	{"RevokedTokenForgetsRetired", testRotateRevoked},
	{"Concurrent", testRotateConcurrent},
	{"Twice", testRotateTwice},
	{"EndRetiredGrace", testEndRetiredGrace},
}

func randomHash() []byte {
	h := make([]byte, 32)
	rand.Read(h)
	return h
}

// rotation of tok at at, with a grace and a keep period after at.
func rotation(tok model.Token, at time.Time, grace, keep time.Duration) model.Rotation {
	exp := at.Add(90 * 24 * time.Hour)
	return model.Rotation{Owner: tok.Owner, ID: tok.ID, From: tok.Hash, Hash: randomHash(), ExpiresAt: &exp,
		At: at, GraceUntil: at.Add(grace), KeepUntil: at.Add(keep)}
}

func mustRotate(t *testing.T, s model.Store, r model.Rotation) model.Token {
	t.Helper()
	got, err := s.RotateToken(r)
	if err != nil {
		t.Fatalf("RotateToken(%s/%s): %v", r.Owner, r.ID, err)
	}
	return got
}

func testRotateKeepsSlot(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now().Add(-time.Hour))
	mustCreateToken(t, s, tok)
	at := now()
	r := rotation(tok, at, 10*time.Minute, 30*24*time.Hour)
	got := mustRotate(t, s, r)
	want := tok
	want.Hash, want.ExpiresAt = r.Hash, r.ExpiresAt
	if d := tokenDiff(got, want); d != "" || !got.RotatedAt.Equal(at) {
		t.Errorf("RotateToken returned %s (rotated %s); want %s rotated %s", fmtToken(got), got.RotatedAt, d, at)
	}
	live, owner, err := s.TokenByHash(r.Hash)
	if err != nil || owner.Name != "alice" {
		t.Fatalf("TokenByHash(new secret) = %v, %q; want alice's token", err, owner.Name)
	}
	if d := tokenDiff(live, want); d != "" || !live.RotatedAt.Equal(at) || !live.Issued().Equal(at) {
		t.Errorf("after rotation: %s (rotated %s)", d, live.RotatedAt)
	}
	if _, _, err := s.TokenByHash(tok.Hash); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("TokenByHash(old secret) = %v, want ErrNotFound: only SecretByHash knows retired secrets", err)
	}
	list, err := s.Tokens("alice")
	if err != nil || len(list) != 1 || list[0].ID != tok.ID {
		t.Errorf("Tokens(alice) = %v, %v; want the one rotated token", tokenIDs(list), err)
	}
	if n, err := s.TokenCount(); err != nil || n != 1 {
		t.Errorf("TokenCount = %d, %v; want 1", n, err)
	}
}

func testRotateGrace(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	at := now()
	r := rotation(tok, at, 10*time.Minute, 30*24*time.Hour)
	mustRotate(t, s, r)

	got, owner, err := s.SecretByHash(tok.Hash, at.Add(9*time.Minute))
	if err != nil || got.ID != tok.ID || owner.Name != "alice" || !bytes.Equal(got.Hash, tok.Hash) {
		t.Fatalf("SecretByHash(old, within grace) = %s, %q, %v; want the token carrying the old hash", fmtToken(got), owner.Name, err)
	}
	_, _, err = s.SecretByHash(tok.Hash, at.Add(10*time.Minute))
	var reused *model.ReusedSecretError
	if !errors.As(err, &reused) || !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("SecretByHash(old, at the end of the grace) = %v; want a *ReusedSecretError that is ErrNotFound", err)
	}
	if reused.TokenID != tok.ID || reused.Owner != "alice" || reused.Name != "ci" || !reused.RetiredAt.Equal(at) {
		t.Errorf("reuse names %+v; want token %s alice/ci retired %s", reused.RetiredSecret, tok.ID, at)
	}
	// The reuse leaves the live secret alone.
	if live, _, err := s.SecretByHash(r.Hash, at.Add(time.Hour)); err != nil || live.ID != tok.ID || !bytes.Equal(live.Hash, r.Hash) {
		t.Errorf("SecretByHash(live) after a reuse = %v; want the token", err)
	}
	if _, _, err := s.SecretByHash(tok.Hash, at.Add(31*24*time.Hour)); err == nil || errors.As(err, &reused) || !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SecretByHash(old, after the keep period) = %v; want plain ErrNotFound", err)
	}
	if _, _, err := s.SecretByHash(randomHash(), at); err == nil || errors.As(err, &reused) || !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SecretByHash(unknown) = %v; want plain ErrNotFound", err)
	}
}

func testRotateZeroGrace(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	at := now()
	mustRotate(t, s, rotation(tok, at, 0, time.Hour))
	var reused *model.ReusedSecretError
	if _, _, err := s.SecretByHash(tok.Hash, at); !errors.As(err, &reused) {
		t.Errorf("SecretByHash(old) with no grace = %v; want reuse", err)
	}
}

func testRotateCompareAndSwap(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	at := now()
	first := rotation(tok, at, time.Minute, time.Hour)
	mustRotate(t, s, first)
	if _, err := s.RotateToken(rotation(tok, at, time.Minute, time.Hour)); !errors.Is(err, model.ErrRotated) {
		t.Errorf("RotateToken from the replaced hash = %v, want ErrRotated", err)
	}
	other := tok
	other.Owner = "bob"
	if _, err := s.RotateToken(rotation(other, at, time.Minute, time.Hour)); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("RotateToken of alice's token as bob = %v, want ErrNotFound", err)
	}
	other = tok
	other.ID = "no-such-id"
	if _, err := s.RotateToken(rotation(other, at, time.Minute, time.Hour)); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("RotateToken of an unknown id = %v, want ErrNotFound", err)
	}
	if live, _, err := s.TokenByHash(first.Hash); err != nil || live.ID != tok.ID {
		t.Errorf("the first rotation's secret = %v; want it live", err)
	}
}

func testRotateRevoked(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	at := now()
	r := rotation(tok, at, time.Hour, 24*time.Hour)
	mustRotate(t, s, r)
	if _, err := s.RevokeToken("alice", tok.ID); err != nil {
		t.Fatal(err)
	}
	for _, h := range [][]byte{tok.Hash, r.Hash} {
		if _, _, err := s.SecretByHash(h, at.Add(time.Minute)); err == nil || !errors.Is(err, model.ErrNotFound) {
			t.Errorf("SecretByHash after revocation = %v; want ErrNotFound (a retired secret dies with its token)", err)
		}
	}
	if _, _, err := s.SecretByHash(tok.Hash, at.Add(2*time.Hour)); errors.As(err, new(*model.ReusedSecretError)) {
		t.Errorf("SecretByHash(old) of a revoked token = %v; want plain ErrNotFound", err)
	}
}

// testRotateConcurrent: of 20 rotations from one hash at once, exactly
// one wins, and its secret is the only live one.
func testRotateConcurrent(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	at := now()
	const n = 20
	rs := make([]model.Rotation, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range rs {
		rs[i] = rotation(tok, at, 0, time.Hour)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.RotateToken(rs[i])
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("rotations %d and %d both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, model.ErrRotated):
			t.Errorf("rotation %d: %v, want ErrRotated", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no rotation succeeded")
	}
	for i, r := range rs {
		_, _, err := s.TokenByHash(r.Hash)
		if live := err == nil; live != (i == won) {
			t.Errorf("secret of rotation %d: live %v (winner %d)", i, live, won)
		}
	}
}

func testRotateTwice(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	at := now()
	r1 := rotation(tok, at, time.Hour, 24*time.Hour)
	second := mustRotate(t, s, r1)
	r2 := rotation(second, at.Add(time.Minute), time.Hour, 24*time.Hour)
	mustRotate(t, s, r2)
	for _, h := range [][]byte{tok.Hash, r1.Hash, r2.Hash} {
		if got, _, err := s.SecretByHash(h, at.Add(2*time.Minute)); err != nil || got.ID != tok.ID {
			t.Errorf("SecretByHash within the grace of both rotations = %v; want the token", err)
		}
	}
}
