package storetest

import (
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

var tokenTests = []subtest{
	{"CreateTokenStores", testCreateTokenStores},
	{"CreateTokenUnknownOwner", testCreateTokenUnknownOwner},
	{"CreateTokenNameTaken", testCreateTokenNameTaken},
	{"CreateTokenSameNameOtherOwner", testCreateTokenSameNameOtherOwner},
	{"CreateTokenLimit", testCreateTokenLimit},
	{"CreateTokenReplace", testCreateTokenReplace},
	{"CreateTokenReplaceAtLimit", testCreateTokenReplaceAtLimit},
	{"CreateTokenReplaceFailureKeepsOld", testCreateTokenReplaceFailureKeepsOld},
	{"CreateTokenConcurrentLimit", testCreateTokenConcurrentLimit},
	{"CreateTokenConcurrentSameName", testCreateTokenConcurrentSameName},
	{"CreateTokenConcurrentCreateRevoke", testCreateTokenConcurrentCreateRevoke},
	{"TokenByHashNotFound", testTokenByHashNotFound},
	{"TokenByHashReflectsOwner", testTokenByHashReflectsOwner},
	{"TokensOrderedByCreation", testTokensOrderedByCreation},
	{"RevokeToken", testRevokeToken},
	{"RecordTokenUse", testRecordTokenUse},
	{"TokenCount", testTokenCount},
	{"LoginTokensCountedApart", testLoginTokensCountedApart},
	{"LoginTokenEvictsLeastActive", testLoginTokenEvictsLeastActive},
	{"LoginTokenOverCap", testLoginTokenOverCap},
	{"LoginTokenRevokeFreesSlot", testLoginTokenRevokeFreesSlot},
	{"LoginTokenRefusals", testLoginTokenRefusals},
	{"LoginTokenConcurrentCap", testLoginTokenConcurrentCap},
}

func testTokenCount(t *testing.T, s model.Store) {
	count := func(want int) {
		t.Helper()
		if n, err := s.TokenCount(); err != nil || n != want {
			t.Errorf("TokenCount = %d, %v; want %d", n, err, want)
		}
	}
	count(0)
	t0 := now()
	a := mustCreateOwner(t, s, "alice", t0, "a", "b")[0]
	mustCreateOwner(t, s, "bob", t0, "a")
	count(3)
	if _, err := s.RevokeToken("alice", a.ID); err != nil {
		t.Fatal(err)
	}
	count(2)
}

// checkFound fails unless hash finds want and its owner.
func checkFound(t *testing.T, s model.Store, want model.Token) {
	t.Helper()
	got, owner, err := s.TokenByHash(want.Hash)
	if err != nil {
		t.Errorf("TokenByHash(%s/%s) = %v, want the token", want.Owner, want.Name, err)
		return
	}
	if d := tokenDiff(got, want); d != "" {
		t.Errorf("TokenByHash: %s", d)
	}
	if owner.Name != want.Owner {
		t.Errorf("TokenByHash(%s/%s) returned owner %q", want.Owner, want.Name, owner.Name)
	}
}

// checkGone fails unless hash finds nothing.
func checkGone(t *testing.T, s model.Store, tok model.Token) {
	t.Helper()
	if got, _, err := s.TokenByHash(tok.Hash); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("TokenByHash(%s/%s %s) = %s, %v; want ErrNotFound", tok.Owner, tok.Name, tok.ID, got.ID, err)
	}
}

// checkTokens fails unless Tokens(owner) is exactly want, in order.
func checkTokens(t *testing.T, s model.Store, owner string, want ...model.Token) {
	t.Helper()
	got, err := s.Tokens(owner)
	if err != nil {
		t.Errorf("Tokens(%s): %v", owner, err)
		return
	}
	if len(got) != len(want) {
		t.Errorf("Tokens(%s) = %v, want %v", owner, tokenIDs(got), tokenIDs(want))
		return
	}
	for i := range got {
		if d := tokenDiff(got[i], want[i]); d != "" {
			t.Errorf("Tokens(%s)[%d]: %s", owner, i, d)
		}
	}
}

// mustCreateTokens creates owner's tokens of the given names with limit,
// the first at t0 and each a second after the one before, and returns them
// in that order.
func mustCreateTokens(t *testing.T, s model.Store, limit int, owner string, t0 time.Time, names ...string) []model.Token {
	t.Helper()
	toks := make([]model.Token, len(names))
	for i, name := range names {
		toks[i] = newToken(owner, name, t0.Add(time.Duration(i)*time.Second))
		mustCreateTokenLimit(t, s, toks[i], limit)
	}
	return toks
}

// mustCreateOwner creates the user name and its tokens of tokenNames, the
// first at t0 and each a second after the one before, and returns the
// tokens in that order.
func mustCreateOwner(t *testing.T, s model.Store, name string, t0 time.Time, tokenNames ...string) []model.Token {
	t.Helper()
	mustCreateUser(t, s, name)
	return mustCreateTokens(t, s, generousLimit, name, t0, tokenNames...)
}

// mustRefuseToken fails the test unless CreateToken(nt), described by what,
// fails with want and replaces nothing.
func mustRefuseToken(t *testing.T, s model.Store, nt model.NewToken, want error, what string) {
	t.Helper()
	replaced, err := s.CreateToken(nt)
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", what, err, want)
	}
	if replaced != nil {
		t.Errorf("a failed CreateToken returned replaced %+v", *replaced)
	}
}

func testCreateTokenStores(t *testing.T, s model.Store) {
	alice := mustCreateUser(t, s, "alice")
	t0 := now()
	tok := newToken("alice", "laptop", t0)
	exp := t0.Add(90 * 24 * time.Hour)
	tok.ExpiresAt = &exp
	replaced, err := s.CreateToken(model.NewToken{Token: tok, Limit: 10})
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if replaced != nil {
		t.Errorf("CreateToken without Replace returned replaced %+v", *replaced)
	}
	got, owner, err := s.TokenByHash(tok.Hash)
	if err != nil {
		t.Fatalf("TokenByHash: %v", err)
	}
	if d := tokenDiff(got, tok); d != "" {
		t.Errorf("TokenByHash: %s", d)
	}
	if d := userDiff(owner, alice); d != "" {
		t.Errorf("TokenByHash owner: %s", d)
	}
	checkTokens(t, s, "alice", tok)
}

func testCreateTokenUnknownOwner(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("nobody", "laptop", now())
	if _, err := s.CreateToken(model.NewToken{Token: tok, Limit: 10}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("CreateToken for an unknown owner = %v, want ErrNotFound", err)
	}
	checkGone(t, s, tok)
	if _, err := s.User("nobody"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("CreateToken created its owner: User = %v", err)
	}
}

func testCreateTokenNameTaken(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	t0 := now()
	first := newToken("alice", "ci", t0)
	mustCreateToken(t, s, first)
	second := newToken("alice", "ci", t0.Add(time.Second))
	mustRefuseToken(t, s, model.NewToken{Token: second, Limit: 10}, model.ErrNameTaken, "CreateToken with a taken name")
	checkGone(t, s, second)
	checkFound(t, s, first)
	checkTokens(t, s, "alice", first)
}

func testCreateTokenSameNameOtherOwner(t *testing.T, s model.Store) {
	t0 := now()
	a := mustCreateOwner(t, s, "alice", t0, "ci")[0]
	b := mustCreateOwner(t, s, "bob", t0.Add(time.Second), "ci")[0]
	checkFound(t, s, a)
	checkFound(t, s, b)
	checkTokens(t, s, "alice", a)
	checkTokens(t, s, "bob", b)
}

func testTokenByHashNotFound(t *testing.T, s model.Store) {
	hash := make([]byte, 32)
	rand.Read(hash)
	if _, _, err := s.TokenByHash(hash); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("TokenByHash on an empty store = %v, want ErrNotFound", err)
	}
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	if _, _, err := s.TokenByHash(hash); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("TokenByHash(unknown) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.TokenByHash(tok.Hash[:16]); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("TokenByHash(prefix of a hash) = %v, want ErrNotFound", err)
	}
}

func testTokenByHashReflectsOwner(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	tok := newToken("alice", "ci", now())
	mustCreateToken(t, s, tok)
	if _, owner, err := s.TokenByHash(tok.Hash); err != nil || owner.Admin || owner.Disabled {
		t.Fatalf("TokenByHash owner = %+v, %v; want plain alice", owner, err)
	}
	want, err := s.UpdateUser("alice", func(u *model.User) error {
		u.Admin = true
		u.Disabled = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, owner, err := s.TokenByHash(tok.Hash)
	if err != nil {
		t.Fatalf("TokenByHash: %v", err)
	}
	if d := userDiff(owner, want); d != "" {
		t.Errorf("TokenByHash after UpdateUser: %s", d)
	}
}

func testTokensOrderedByCreation(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	mustCreateUser(t, s, "carol")
	checkTokens(t, s, "carol") // a user without tokens has none

	t0 := now()
	// Insertion order, name order and creation order all differ.
	zeta := newToken("alice", "zeta", t0.Add(2*time.Second))
	alpha := newToken("alice", "alpha", t0)
	mid := newToken("alice", "mid", t0.Add(3*time.Second))
	beta := newToken("alice", "beta", t0.Add(time.Second))
	for _, tok := range []model.Token{zeta, newToken("bob", "b1", t0), alpha, newToken("bob", "alpha", t0.Add(time.Second)), mid, beta} {
		mustCreateToken(t, s, tok)
	}
	checkTokens(t, s, "alice", alpha, beta, zeta, mid)
	got, err := s.Tokens("bob")
	if err != nil || len(got) != 2 || slices.ContainsFunc(got, func(tok model.Token) bool { return tok.Owner != "bob" }) {
		t.Errorf("Tokens(bob) = %v, %v; want bob's 2 tokens", tokenIDs(got), err)
	}
	checkTokens(t, s, "carol")
}

func testRevokeToken(t *testing.T, s model.Store) {
	t0 := now()
	held := mustCreateOwner(t, s, "alice", t0, "a", "b")
	a, b := held[0], held[1]
	bobs := mustCreateOwner(t, s, "bob", t0.Add(2*time.Second), "c")[0]

	got, err := s.RevokeToken("alice", a.ID)
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if d := tokenDiff(got, a); d != "" {
		t.Errorf("RevokeToken returned: %s", d)
	}
	checkGone(t, s, a)
	checkFound(t, s, b)
	checkTokens(t, s, "alice", b)

	if _, err := s.RevokeToken("alice", a.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("second RevokeToken = %v, want ErrNotFound", err)
	}
	if _, err := s.RevokeToken("alice", "no-such-id"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("RevokeToken(unknown id) = %v, want ErrNotFound", err)
	}
	if _, err := s.RevokeToken("nobody", b.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("RevokeToken(unknown owner) = %v, want ErrNotFound", err)
	}
	// Another owner's token is not found and not touched.
	if _, err := s.RevokeToken("alice", bobs.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("RevokeToken(alice, bob's token) = %v, want ErrNotFound", err)
	}
	if _, err := s.RevokeToken("bob", b.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("RevokeToken(bob, alice's token) = %v, want ErrNotFound", err)
	}
	checkFound(t, s, bobs)
	checkTokens(t, s, "bob", bobs)
	checkFound(t, s, b)
	checkTokens(t, s, "alice", b)

	// The name is free again.
	again := newToken("alice", "a", t0.Add(time.Minute))
	if _, err := s.CreateToken(model.NewToken{Token: again, Limit: 10}); err != nil {
		t.Errorf("CreateToken with the name of a revoked token: %v", err)
	}
	checkTokens(t, s, "alice", b, again)
}

func testRecordTokenUse(t *testing.T, s model.Store) {
	t0 := now()
	held := mustCreateOwner(t, s, "alice", t0, "a", "b", "gone")
	a, b, gone := held[0], held[1], held[2]
	if _, err := s.RevokeToken("alice", gone.ID); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) *time.Time { v := t0.Add(time.Hour + d); return &v }

	if err := s.RecordTokenUse(usesAt(map[string]time.Time{a.ID: *at(0)})); err != nil {
		t.Fatalf("RecordTokenUse: %v", err)
	}
	a.LastUsedAt = at(0)
	checkFound(t, s, a)
	checkFound(t, s, b) // untouched, LastUsedAt still nil
	checkTokens(t, s, "alice", a, b)

	// An older time is ignored, a newer one wins.
	if err := s.RecordTokenUse(usesAt(map[string]time.Time{a.ID: *at(-time.Minute), b.ID: *at(time.Second)})); err != nil {
		t.Fatalf("RecordTokenUse: %v", err)
	}
	b.LastUsedAt = at(time.Second)
	checkFound(t, s, a)
	checkFound(t, s, b)
	if err := s.RecordTokenUse(usesAt(map[string]time.Time{a.ID: *at(time.Minute)})); err != nil {
		t.Fatalf("RecordTokenUse: %v", err)
	}
	a.LastUsedAt = at(time.Minute)
	checkFound(t, s, a)

	// Revoked and unknown ids are ignored; the rest of the batch applies.
	err := s.RecordTokenUse(usesAt(map[string]time.Time{gone.ID: *at(time.Hour), "no-such-id": *at(time.Hour), b.ID: *at(time.Minute)}))
	if err != nil {
		t.Fatalf("RecordTokenUse with a revoked and an unknown id: %v", err)
	}
	b.LastUsedAt = at(time.Minute)
	checkFound(t, s, b)
	checkGone(t, s, gone)
	checkTokens(t, s, "alice", a, b)

	for _, uses := range []map[string]time.Time{{}, nil} {
		if err := s.RecordTokenUse(usesAt(uses)); err != nil {
			t.Errorf("RecordTokenUse(%v) = %v, want nil", uses, err)
		}
	}
	checkTokens(t, s, "alice", a, b)
}
