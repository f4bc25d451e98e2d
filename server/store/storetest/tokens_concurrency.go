package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Concurrent writers: the token limit, unique names and the indexes must
// hold when CreateToken and RevokeToken race.

func testCreateTokenConcurrentLimit(t *testing.T, s model.Store) {
	const (
		n     = 50
		limit = 5
	)
	mustCreateUser(t, s, "alice")
	t0 := now()
	toks := make([]model.Token, n)
	for i := range toks {
		toks[i] = newToken("alice", fmt.Sprintf("t%02d", i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	won := createAtOnce(t, s, toks, limit, model.ErrTokenLimit)
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
	for i := range toks {
		toks[i] = newToken("alice", "ci", t0)
	}
	won := createAtOnce(t, s, toks, 100, model.ErrNameTaken)
	if len(won) != 1 {
		t.Fatalf("%d concurrent CreateToken of one name: %d succeeded, want 1", n, len(won))
	}
	checkFound(t, s, won[0])
	checkTokens(t, s, "alice", won[0])
}

// createAtOnce runs CreateToken for every token at once with limit and
// returns those that were stored, in the order of toks. A token refused with
// refusal must not be found; any other error fails the test.
func createAtOnce(t *testing.T, s model.Store, toks []model.Token, limit int, refusal error) []model.Token {
	t.Helper()
	errs := make([]error, len(toks))
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
		case errors.Is(err, refusal):
			checkGone(t, s, toks[i])
		default:
			t.Errorf("CreateToken(%s) = %v, want nil or %v", toks[i].Name, err, refusal)
		}
	}
	return won
}

// testCreateTokenConcurrentCreateRevoke has several goroutines create,
// replace and revoke tokens of the same few names, then checks that the
// indexes agree: no listed token is missing from the hash index, no hash
// finds a token that is not listed, and every name is free again once
// everything listed is revoked.
func testCreateTokenConcurrentCreateRevoke(t *testing.T, s model.Store) {
	names := []string{"a", "b", "c"}
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	bobs := newToken("bob", "a", now())
	mustCreateToken(t, s, bobs)

	created := churnTokens(t, s, names)
	if len(created) == 0 {
		t.Fatal("no CreateToken succeeded")
	}
	listed := checkIndexesAgree(t, s, names, created)

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

// churnTokens runs workers that create, replace, use and revoke alice's
// tokens of names at the same time, and returns every token created.
func churnTokens(t *testing.T, s model.Store, names []string) []model.Token {
	const workers = 6
	var (
		mu      sync.Mutex
		created []model.Token
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			mine := churnWorker(t, s, w, names)
			mu.Lock()
			created = append(created, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return created
}

// churnWorker is worker w of churnTokens: each round it creates (every
// other time with Replace), records the use of, or revokes one of its own
// tokens. It returns the tokens it created.
func churnWorker(t *testing.T, s model.Store, w int, names []string) []model.Token {
	const rounds = 24
	var created, held []model.Token
	for i := range rounds {
		switch {
		case i%4 == 3 && len(held) > 0:
			victim := held[len(held)-1]
			held = held[:len(held)-1]
			_, err := s.RevokeToken("alice", victim.ID)
			if err != nil && !errors.Is(err, model.ErrNotFound) {
				t.Errorf("RevokeToken: %v", err)
			}
		case i%4 == 2:
			uses := map[string]time.Time{}
			for _, tok := range held {
				uses[tok.ID] = now()
			}
			if err := s.RecordTokenUse(usesAt(uses)); err != nil {
				t.Errorf("RecordTokenUse: %v", err)
			}
		default:
			tok := newToken("alice", names[(w+i)%len(names)], now())
			_, err := s.CreateToken(model.NewToken{Token: tok, Limit: 100, Replace: i%2 == 0})
			if err != nil && !errors.Is(err, model.ErrNameTaken) {
				t.Errorf("CreateToken: %v", err)
			}
			if err == nil {
				held = append(held, tok)
				created = append(created, tok)
			}
		}
	}
	return created
}

// checkIndexesAgree checks alice's tokens after the churn: at most one per
// name, each found by its hash, and of the created tokens' hashes exactly
// the listed ones find a token. It returns the listed tokens.
func checkIndexesAgree(t *testing.T, s model.Store, names []string, created []model.Token) []model.Token {
	t.Helper()
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
	return listed
}
