package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Login tokens: counted apart from application tokens, under their own
// cap, which CreateLoginToken keeps by evicting the least recently active
// in the same transaction.

func newLoginToken(owner, name string, created time.Time) model.Token {
	tok := newToken(owner, name, created)
	tok.Kind = model.KindLogin
	tok.CreatedVia = "docker-login"
	return tok
}

// mustCreateLogin inserts a login token under limit and returns what it
// evicted.
func mustCreateLogin(t *testing.T, s model.Store, tok model.Token, limit int) []model.Token {
	t.Helper()
	evicted, err := s.CreateLoginToken(model.NewToken{Token: tok, Limit: limit})
	if err != nil {
		t.Fatalf("CreateLoginToken(%s/%s) with limit %d: %v", tok.Owner, tok.Name, limit, err)
	}
	return evicted
}

func checkEvicted(t *testing.T, got []model.Token, want ...model.Token) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("evicted %v, want %v", tokenIDs(got), tokenIDs(want))
	}
	for i := range got {
		if d := tokenDiff(got[i], want[i]); d != "" {
			t.Errorf("evicted[%d]: %s", i, d)
		}
	}
}

func testLoginTokensCountedApart(t *testing.T, s model.Store) {
	const appLimit, loginLimit = 2, 3
	t0 := now()
	apps := mustCreateOwner(t, s, "alice", t0, "a", "b")
	var logins []model.Token
	for i := range loginLimit {
		tok := newLoginToken("alice", fmt.Sprintf("login %d", i), t0.Add(time.Duration(10+i)*time.Second))
		checkEvicted(t, mustCreateLogin(t, s, tok, loginLimit))
		logins = append(logins, tok)
	}
	// The application slots are full and stay full: login tokens neither
	// took them nor free them.
	over := newToken("alice", "c", t0.Add(time.Minute))
	mustRefuseToken(t, s, model.NewToken{Token: over, Limit: appLimit}, model.ErrTokenLimit, "CreateToken past the application limit")
	checkFound(t, s, logins[0])
	checkTokens(t, s, "alice", append(apps, logins...)...)
	// Application tokens do not count against the login cap either: a
	// fourth login evicts one login token, no application token.
	if _, err := s.RevokeToken("alice", apps[0].ID); err != nil {
		t.Fatal(err)
	}
	mustCreateTokenLimit(t, s, over, appLimit)
	fourth := newLoginToken("alice", "login 3", t0.Add(2*time.Minute))
	checkEvicted(t, mustCreateLogin(t, s, fourth, loginLimit), logins[0])
	checkTokens(t, s, "alice", apps[1], logins[1], logins[2], over, fourth)
}

func testLoginTokenEvictsLeastActive(t *testing.T, s model.Store) {
	const limit = 3
	mustCreateUser(t, s, "alice")
	t0 := now()
	var held []model.Token
	for i := range limit {
		tok := newLoginToken("alice", fmt.Sprintf("login %d", i), t0.Add(time.Duration(i)*time.Second))
		mustCreateLogin(t, s, tok, limit)
		held = append(held, tok)
	}
	// The oldest was used lately: the second is now the least active.
	used := t0.Add(time.Hour)
	if err := s.RecordTokenUse(usesAt(map[string]time.Time{held[0].ID: used})); err != nil {
		t.Fatal(err)
	}
	held[0].LastUsedAt = &used
	next := newLoginToken("alice", "login 3", t0.Add(2*time.Hour))
	checkEvicted(t, mustCreateLogin(t, s, next, limit), held[1])
	checkGone(t, s, held[1])
	checkFound(t, s, next)
	checkTokens(t, s, "alice", held[0], held[2], next)
}

// testLoginTokenOverCap: a cap lowered below what a user holds evicts as
// many as it takes for the new token to fit.
func testLoginTokenOverCap(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	t0 := now()
	var held []model.Token
	for i := range 4 {
		tok := newLoginToken("alice", fmt.Sprintf("login %d", i), t0.Add(time.Duration(i)*time.Second))
		mustCreateLogin(t, s, tok, 10)
		held = append(held, tok)
	}
	next := newLoginToken("alice", "login 4", t0.Add(time.Minute))
	checkEvicted(t, mustCreateLogin(t, s, next, 2), held[0], held[1], held[2])
	checkTokens(t, s, "alice", held[3], next)
}

func testLoginTokenRevokeFreesSlot(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	t0 := now()
	a, b := newLoginToken("alice", "a", t0), newLoginToken("alice", "b", t0.Add(time.Second))
	mustCreateLogin(t, s, a, 2)
	mustCreateLogin(t, s, b, 2)
	if _, err := s.RevokeToken("alice", a.ID); err != nil {
		t.Fatal(err)
	}
	c := newLoginToken("alice", "c", t0.Add(time.Minute))
	checkEvicted(t, mustCreateLogin(t, s, c, 2))
	checkTokens(t, s, "alice", b, c)
	// And the application count did not move: two app tokens fit at 2.
	mustCreateTokens(t, s, 2, "alice", t0.Add(time.Hour), "app1", "app2")
}

func testLoginTokenRefusals(t *testing.T, s model.Store) {
	if _, err := s.CreateLoginToken(model.NewToken{Token: newLoginToken("nobody", "x", now()), Limit: 3}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("CreateLoginToken for an unknown owner = %v, want ErrNotFound", err)
	}
	t0 := now()
	app := mustCreateOwner(t, s, "alice", t0, "taken")[0]
	dup := newLoginToken("alice", "taken", t0.Add(time.Second))
	if _, err := s.CreateLoginToken(model.NewToken{Token: dup, Limit: 3}); !errors.Is(err, model.ErrNameTaken) {
		t.Errorf("CreateLoginToken with a taken name = %v, want ErrNameTaken", err)
	}
	checkGone(t, s, dup)
	// Replace stays within a kind: an application token does not replace
	// a login token of the same name, nor the other way round.
	login := newLoginToken("alice", "login", t0.Add(2*time.Second))
	mustCreateLogin(t, s, login, 3)
	appSameName := newToken("alice", "login", t0.Add(3*time.Second))
	mustRefuseToken(t, s, model.NewToken{Token: appSameName, Limit: 10, Replace: true}, model.ErrNameTaken, "CreateToken replacing a login token")
	loginAsApp := newLoginToken("alice", "taken", t0.Add(4*time.Second))
	mustRefuseToken(t, s, model.NewToken{Token: loginAsApp, Limit: 10, Replace: true}, model.ErrNameTaken, "CreateToken of a login token replacing an application token")
	checkTokens(t, s, "alice", app, login)
}

// testLoginTokenConcurrentCap: logins at once never leave more than the
// cap, and every login succeeds.
func testLoginTokenConcurrentCap(t *testing.T, s model.Store) {
	const n, limit = 8, 3
	mustCreateUser(t, s, "alice")
	t0 := now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tok := newLoginToken("alice", fmt.Sprintf("login %d", i), t0.Add(time.Duration(i)*time.Second))
			_, errs[i] = s.CreateLoginToken(model.NewToken{Token: tok, Limit: limit})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent CreateLoginToken %d: %v", i, err)
		}
	}
	list, err := s.Tokens("alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != limit {
		t.Errorf("after %d concurrent logins with cap %d the owner holds %d tokens: %v", n, limit, len(list), tokenIDs(list))
	}
}
