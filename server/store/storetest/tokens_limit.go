package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// The token limit and Replace: the two rules CreateToken keeps inside its
// transaction besides unique names.

func testCreateTokenLimit(t *testing.T, s model.Store) {
	const limit = 3
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	t0 := now()
	held := mustCreateTokens(t, s, limit, "alice", t0, "t0", "t1", "t2")
	over := newToken("alice", "over", t0.Add(time.Minute))
	mustRefuseToken(t, s, model.NewToken{Token: over, Limit: limit}, model.ErrTokenLimit, "CreateToken beyond the limit")
	checkGone(t, s, over)
	checkTokens(t, s, "alice", held...)

	// The limit counts per owner.
	bobs := newToken("bob", "t0", t0)
	if _, err := s.CreateToken(model.NewToken{Token: bobs, Limit: limit}); err != nil {
		t.Errorf("bob's first token failed because of alice's: %v", err)
	}
	// Revoking frees a slot.
	if _, err := s.RevokeToken("alice", held[0].ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if _, err := s.CreateToken(model.NewToken{Token: over, Limit: limit}); err != nil {
		t.Errorf("CreateToken after a revocation freed a slot = %v", err)
	}
	checkTokens(t, s, "alice", held[1], held[2], over)
}

func testCreateTokenReplace(t *testing.T, s model.Store) {
	t0 := now()
	held := mustCreateOwner(t, s, "alice", t0, "ci", "laptop")
	old, other := held[0], held[1]
	bobs := mustCreateOwner(t, s, "bob", t0.Add(2*time.Second), "ci")[0]

	successor := newToken("alice", "ci", t0.Add(time.Minute))
	replaced, err := s.CreateToken(model.NewToken{Token: successor, Limit: 10, Replace: true})
	if err != nil {
		t.Fatalf("CreateToken with Replace: %v", err)
	}
	if replaced == nil {
		t.Fatal("CreateToken with Replace returned no replaced token")
	}
	if d := tokenDiff(*replaced, old); d != "" {
		t.Errorf("replaced: %s", d)
	}
	checkGone(t, s, old)
	checkFound(t, s, successor)
	checkFound(t, s, other)
	checkFound(t, s, bobs)
	checkTokens(t, s, "alice", other, successor)
	checkTokens(t, s, "bob", bobs)
	if _, err := s.RevokeToken("alice", old.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("RevokeToken of the replaced token = %v, want ErrNotFound", err)
	}

	// Replace with a new name just creates.
	fresh := newToken("alice", "new", t0.Add(2*time.Minute))
	replaced, err = s.CreateToken(model.NewToken{Token: fresh, Limit: 10, Replace: true})
	if err != nil {
		t.Fatalf("CreateToken with Replace and a new name: %v", err)
	}
	if replaced != nil {
		t.Errorf("CreateToken with Replace and a new name replaced %+v", *replaced)
	}
	checkTokens(t, s, "alice", other, successor, fresh)
}

func testCreateTokenReplaceAtLimit(t *testing.T, s model.Store) {
	const limit = 2
	mustCreateUser(t, s, "alice")
	t0 := now()
	held := mustCreateTokens(t, s, limit, "alice", t0, "a", "b")
	a, b := held[0], held[1]
	// The replaced token frees its slot in the same transaction.
	a2 := newToken("alice", "a", t0.Add(time.Minute))
	replaced, err := s.CreateToken(model.NewToken{Token: a2, Limit: limit, Replace: true})
	if err != nil {
		t.Fatalf("CreateToken with Replace at the limit = %v, want success: the replaced token frees its slot", err)
	}
	if replaced == nil || replaced.ID != a.ID {
		t.Errorf("replaced = %v, want %s", replaced, a.ID)
	}
	checkGone(t, s, a)
	checkFound(t, s, a2)
	checkTokens(t, s, "alice", b, a2)

	// Replace does not help a new name past the limit.
	c := newToken("alice", "c", t0.Add(2*time.Minute))
	if _, err := s.CreateToken(model.NewToken{Token: c, Limit: limit, Replace: true}); !errors.Is(err, model.ErrTokenLimit) {
		t.Errorf("CreateToken with Replace and a new name at the limit = %v, want ErrTokenLimit", err)
	}
	checkGone(t, s, c)
	checkTokens(t, s, "alice", b, a2)
}

// testCreateTokenReplaceFailureKeepsOld replaces a token of an owner who
// holds more than the new limit: the insert fails, and the revocation of the
// old token must not happen either.
func testCreateTokenReplaceFailureKeepsOld(t *testing.T, s model.Store) {
	t0 := now()
	held := mustCreateOwner(t, s, "alice", t0, "a", "b", "c")
	a2 := newToken("alice", "a", t0.Add(time.Minute))
	mustRefuseToken(t, s, model.NewToken{Token: a2, Limit: 2, Replace: true}, model.ErrTokenLimit,
		"CreateToken with Replace ending above the limit")
	checkFound(t, s, held[0])
	checkGone(t, s, a2)
	checkTokens(t, s, "alice", held...)
}
