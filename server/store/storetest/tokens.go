package storetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
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
}

func testTokenCount(t *testing.T, s model.Store) {
	count := func(want int) {
		t.Helper()
		if n, err := s.TokenCount(); err != nil || n != want {
			t.Errorf("TokenCount = %d, %v; want %d", n, err, want)
		}
	}
	count(0)
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	t0 := now()
	a := newToken("alice", "a", t0)
	for _, tok := range []model.Token{a, newToken("alice", "b", t0), newToken("bob", "a", t0)} {
		mustCreateToken(t, s, tok)
	}
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
	replaced, err := s.CreateToken(model.NewToken{Token: second, Limit: 10})
	if !errors.Is(err, model.ErrNameTaken) {
		t.Fatalf("CreateToken with a taken name = %v, want ErrNameTaken", err)
	}
	if replaced != nil {
		t.Errorf("a failed CreateToken returned replaced %+v", *replaced)
	}
	checkGone(t, s, second)
	checkFound(t, s, first)
	checkTokens(t, s, "alice", first)
}

func testCreateTokenSameNameOtherOwner(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	t0 := now()
	a := newToken("alice", "ci", t0)
	b := newToken("bob", "ci", t0.Add(time.Second))
	mustCreateToken(t, s, a)
	mustCreateToken(t, s, b)
	checkFound(t, s, a)
	checkFound(t, s, b)
	checkTokens(t, s, "alice", a)
	checkTokens(t, s, "bob", b)
}

func testCreateTokenLimit(t *testing.T, s model.Store) {
	const limit = 3
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	t0 := now()
	var held []model.Token
	for i := range limit {
		tok := newToken("alice", fmt.Sprintf("t%d", i), t0.Add(time.Duration(i)*time.Second))
		if _, err := s.CreateToken(model.NewToken{Token: tok, Limit: limit}); err != nil {
			t.Fatalf("CreateToken %d of %d: %v", i+1, limit, err)
		}
		held = append(held, tok)
	}
	over := newToken("alice", "over", t0.Add(time.Minute))
	if _, err := s.CreateToken(model.NewToken{Token: over, Limit: limit}); !errors.Is(err, model.ErrTokenLimit) {
		t.Fatalf("CreateToken beyond the limit = %v, want ErrTokenLimit", err)
	}
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
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	t0 := now()
	old := newToken("alice", "ci", t0)
	other := newToken("alice", "laptop", t0.Add(time.Second))
	bobs := newToken("bob", "ci", t0.Add(2*time.Second))
	mustCreateToken(t, s, old)
	mustCreateToken(t, s, other)
	mustCreateToken(t, s, bobs)

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
	a := newToken("alice", "a", t0)
	b := newToken("alice", "b", t0.Add(time.Second))
	for _, tok := range []model.Token{a, b} {
		if _, err := s.CreateToken(model.NewToken{Token: tok, Limit: limit}); err != nil {
			t.Fatalf("CreateToken(%s): %v", tok.Name, err)
		}
	}
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
	mustCreateUser(t, s, "alice")
	t0 := now()
	a := newToken("alice", "a", t0)
	b := newToken("alice", "b", t0.Add(time.Second))
	c := newToken("alice", "c", t0.Add(2*time.Second))
	for _, tok := range []model.Token{a, b, c} {
		mustCreateToken(t, s, tok)
	}
	a2 := newToken("alice", "a", t0.Add(time.Minute))
	replaced, err := s.CreateToken(model.NewToken{Token: a2, Limit: 2, Replace: true})
	if !errors.Is(err, model.ErrTokenLimit) {
		t.Fatalf("CreateToken with Replace ending above the limit = %v, want ErrTokenLimit", err)
	}
	if replaced != nil {
		t.Errorf("a failed CreateToken returned replaced %+v", *replaced)
	}
	checkFound(t, s, a)
	checkGone(t, s, a2)
	checkTokens(t, s, "alice", a, b, c)
}

func testCreateTokenConcurrentLimit(t *testing.T, s model.Store) {
	const (
		n     = 50
		limit = 5
	)
	mustCreateUser(t, s, "alice")
	t0 := now()
	toks := make([]model.Token, n)
	errs := make([]error, n)
	for i := range toks {
		toks[i] = newToken("alice", fmt.Sprintf("t%02d", i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	var wg sync.WaitGroup
	for i := range toks {
		wg.Go(func() {
			_, errs[i] = s.CreateToken(model.NewToken{Token: toks[i], Limit: limit})
		})
	}
	wg.Wait()
	var won []model.Token
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, toks[i])
		case errors.Is(err, model.ErrTokenLimit):
			checkGone(t, s, toks[i])
		default:
			t.Errorf("CreateToken(%s) = %v, want nil or ErrTokenLimit", toks[i].Name, err)
		}
	}
	if len(won) != limit {
		t.Errorf("%d concurrent CreateToken with limit %d: %d succeeded", n, limit, len(won))
	}
	for _, tok := range won {
		checkFound(t, s, tok)
	}
	// won is in creation-time order because toks is.
	checkTokens(t, s, "alice", won...)
}

func testCreateTokenConcurrentSameName(t *testing.T, s model.Store) {
	const n = 20
	mustCreateUser(t, s, "alice")
	t0 := now()
	toks := make([]model.Token, n)
	errs := make([]error, n)
	for i := range toks {
		toks[i] = newToken("alice", "ci", t0)
	}
	var wg sync.WaitGroup
	for i := range toks {
		wg.Go(func() {
			_, errs[i] = s.CreateToken(model.NewToken{Token: toks[i], Limit: 100})
		})
	}
	wg.Wait()
	var won []model.Token
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, toks[i])
		case errors.Is(err, model.ErrNameTaken):
			checkGone(t, s, toks[i])
		default:
			t.Errorf("CreateToken = %v, want nil or ErrNameTaken", err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d concurrent CreateToken of one name: %d succeeded, want 1", n, len(won))
	}
	checkFound(t, s, won[0])
	checkTokens(t, s, "alice", won[0])
}

// testCreateTokenConcurrentCreateRevoke has several goroutines create,
// replace and revoke tokens of the same few names, then checks that the
// indexes agree: no listed token is missing from the hash index, no hash
// finds a token that is not listed, and every name is free again once
// everything listed is revoked.
func testCreateTokenConcurrentCreateRevoke(t *testing.T, s model.Store) {
	const (
		workers = 6
		rounds  = 24
	)
	names := []string{"a", "b", "c"}
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	bobs := newToken("bob", "a", now())
	mustCreateToken(t, s, bobs)

	var (
		mu      sync.Mutex
		created []model.Token
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			var mine []model.Token
			for i := range rounds {
				name := names[(w+i)%len(names)]
				switch {
				case i%4 == 3 && len(mine) > 0:
					victim := mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					_, err := s.RevokeToken("alice", victim.ID)
					if err != nil && !errors.Is(err, model.ErrNotFound) {
						t.Errorf("RevokeToken: %v", err)
					}
				case i%4 == 2:
					uses := map[string]time.Time{}
					for _, tok := range mine {
						uses[tok.ID] = now()
					}
					if err := s.RecordTokenUse(uses); err != nil {
						t.Errorf("RecordTokenUse: %v", err)
					}
				default:
					tok := newToken("alice", name, now())
					_, err := s.CreateToken(model.NewToken{Token: tok, Limit: 100, Replace: i%2 == 0})
					if err != nil && !errors.Is(err, model.ErrNameTaken) {
						t.Errorf("CreateToken: %v", err)
					}
					if err == nil {
						mine = append(mine, tok)
						mu.Lock()
						created = append(created, tok)
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	if len(created) == 0 {
		t.Fatal("no CreateToken succeeded")
	}

	listed, err := s.Tokens("alice")
	if err != nil {
		t.Fatalf("Tokens after concurrent create and revoke: %v", err)
	}
	if len(listed) > len(names) {
		t.Errorf("Tokens lists %d tokens for %d names", len(listed), len(names))
	}
	seenNames := map[string]bool{}
	listedIDs := map[string]bool{}
	for _, tok := range listed {
		if seenNames[tok.Name] {
			t.Errorf("name %q is listed twice", tok.Name)
		}
		seenNames[tok.Name] = true
		listedIDs[tok.ID] = true
		got, _, err := s.TokenByHash(tok.Hash)
		if err != nil || got.ID != tok.ID {
			t.Errorf("listed token %s: TokenByHash = %s, %v", tok.ID, got.ID, err)
		}
	}
	found := 0
	for _, tok := range created {
		got, _, err := s.TokenByHash(tok.Hash)
		switch {
		case errors.Is(err, model.ErrNotFound):
		case err != nil:
			t.Errorf("TokenByHash(%s): %v", tok.ID, err)
		case got.ID != tok.ID:
			t.Errorf("the hash of %s finds %s", tok.ID, got.ID)
		case !listedIDs[tok.ID]:
			t.Errorf("the hash of %s finds a token that Tokens does not list", tok.ID)
		default:
			found++
		}
	}
	if found != len(listed) {
		t.Errorf("%d created hashes are found, but %d tokens are listed", found, len(listed))
	}

	for _, tok := range listed {
		if _, err := s.RevokeToken("alice", tok.ID); err != nil {
			t.Errorf("RevokeToken(%s): %v", tok.ID, err)
		}
	}
	checkTokens(t, s, "alice")
	for _, tok := range created {
		checkGone(t, s, tok)
	}
	// No name is still held and nothing still counts against the limit.
	for _, name := range names {
		tok := newToken("alice", name, now())
		if _, err := s.CreateToken(model.NewToken{Token: tok, Limit: len(names)}); err != nil {
			t.Errorf("CreateToken(%s) after revoking everything: %v", name, err)
		}
	}
	checkFound(t, s, bobs)
	checkTokens(t, s, "bob", bobs)
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
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	t0 := now()
	a := newToken("alice", "a", t0)
	b := newToken("alice", "b", t0.Add(time.Second))
	bobs := newToken("bob", "c", t0.Add(2*time.Second))
	for _, tok := range []model.Token{a, b, bobs} {
		mustCreateToken(t, s, tok)
	}

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
	mustCreateUser(t, s, "alice")
	t0 := now()
	a := newToken("alice", "a", t0)
	b := newToken("alice", "b", t0.Add(time.Second))
	gone := newToken("alice", "gone", t0.Add(2*time.Second))
	for _, tok := range []model.Token{a, b, gone} {
		mustCreateToken(t, s, tok)
	}
	if _, err := s.RevokeToken("alice", gone.ID); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) *time.Time { v := t0.Add(time.Hour + d); return &v }

	if err := s.RecordTokenUse(map[string]time.Time{a.ID: *at(0)}); err != nil {
		t.Fatalf("RecordTokenUse: %v", err)
	}
	a.LastUsedAt = at(0)
	checkFound(t, s, a)
	checkFound(t, s, b) // untouched, LastUsedAt still nil
	checkTokens(t, s, "alice", a, b)

	// An older time is ignored, a newer one wins.
	if err := s.RecordTokenUse(map[string]time.Time{a.ID: *at(-time.Minute), b.ID: *at(time.Second)}); err != nil {
		t.Fatalf("RecordTokenUse: %v", err)
	}
	b.LastUsedAt = at(time.Second)
	checkFound(t, s, a)
	checkFound(t, s, b)
	if err := s.RecordTokenUse(map[string]time.Time{a.ID: *at(time.Minute)}); err != nil {
		t.Fatalf("RecordTokenUse: %v", err)
	}
	a.LastUsedAt = at(time.Minute)
	checkFound(t, s, a)

	// Revoked and unknown ids are ignored; the rest of the batch applies.
	err := s.RecordTokenUse(map[string]time.Time{gone.ID: *at(time.Hour), "no-such-id": *at(time.Hour), b.ID: *at(time.Minute)})
	if err != nil {
		t.Fatalf("RecordTokenUse with a revoked and an unknown id: %v", err)
	}
	b.LastUsedAt = at(time.Minute)
	checkFound(t, s, b)
	checkGone(t, s, gone)
	checkTokens(t, s, "alice", a, b)

	for _, uses := range []map[string]time.Time{{}, nil} {
		if err := s.RecordTokenUse(uses); err != nil {
			t.Errorf("RecordTokenUse(%v) = %v, want nil", uses, err)
		}
	}
	checkTokens(t, s, "alice", a, b)
}
