package storetest

import (
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Expiry in the store: expired tokens free their slot, the sweep lists,
// deletes and marks them, and a use keeps its address and client.

var expiryTests = []subtest{
	{"ExpiredFreesSlot", testExpiredFreesSlot},
	{"IdleFreesSlot", testIdleFreesSlot},
	{"TokensExpiringBy", testTokensExpiringBy},
	{"DeleteExpiredTokens", testDeleteExpiredTokens},
	{"MarkTokenNotified", testMarkTokenNotified},
	{"RecordTokenUseWhere", testRecordTokenUseWhere},
}

// usesAt is uses at these times from nowhere.
func usesAt(m map[string]time.Time) map[string]model.TokenUse {
	if m == nil {
		return nil
	}
	out := make(map[string]model.TokenUse, len(m))
	for id, at := range m {
		out[id] = model.TokenUse{At: at}
	}
	return out
}

func expiringAt(tok model.Token, at time.Time) model.Token {
	tok.ExpiresAt = &at
	return tok
}

func testExpiredFreesSlot(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	t0 := now()
	live := newToken("alice", "live", t0)
	dead := expiringAt(newToken("alice", "dead", t0), t0.Add(time.Hour))
	mustCreateTokenLimit(t, s, live, 2)
	mustCreateTokenLimit(t, s, dead, 2)
	next := newToken("alice", "next", t0.Add(time.Minute))
	// Before the expiry both count; after it, dead does not.
	mustRefuseToken(t, s, model.NewToken{Token: next, Limit: 2, Now: t0.Add(time.Hour - time.Millisecond)}, model.ErrTokenLimit, "CreateToken before the other expired")
	if _, err := s.CreateToken(model.NewToken{Token: next, Limit: 2, Now: t0.Add(time.Hour)}); err != nil {
		t.Fatalf("CreateToken when an expired token holds the last slot = %v, want it to fit", err)
	}
	checkTokens(t, s, "alice", live, dead, next)
	// Live tokens still count: a third live one is refused.
	third := newToken("alice", "third", t0.Add(2*time.Minute))
	mustRefuseToken(t, s, model.NewToken{Token: third, Limit: 2, Now: t0.Add(time.Hour)}, model.ErrTokenLimit, "CreateToken beyond the live limit")
	// A zero Now counts every token, as before.
	mustRefuseToken(t, s, model.NewToken{Token: third, Limit: 3}, model.ErrTokenLimit, "CreateToken with no Now")
}

func testIdleFreesSlot(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	t0 := now()
	old := newToken("alice", "old", t0)
	mustCreateTokenLimit(t, s, old, 1)
	rules := model.ExpiryRules{App: model.ExpiryRule{Idle: 24 * time.Hour}}
	if err := s.RecordTokenUse(usesAt(map[string]time.Time{old.ID: t0.Add(time.Hour)})); err != nil {
		t.Fatalf("RecordTokenUse: %v", err)
	}
	next := newToken("alice", "next", t0.Add(time.Minute))
	// Idle since its last use, not since its creation.
	mustRefuseToken(t, s, model.NewToken{Token: next, Limit: 1, Now: t0.Add(25*time.Hour - time.Millisecond), Rules: rules}, model.ErrTokenLimit, "CreateToken before the other was idle long enough")
	if _, err := s.CreateToken(model.NewToken{Token: next, Limit: 1, Now: t0.Add(25 * time.Hour), Rules: rules}); err != nil {
		t.Fatalf("CreateToken when an idle token holds the slot = %v", err)
	}
}

func testTokensExpiringBy(t *testing.T, s model.Store) {
	t0 := now()
	mustCreateUser(t, s, "bob")
	soon := expiringAt(newToken("bob", "soon", t0), t0.Add(time.Hour))
	later := expiringAt(newToken("bob", "later", t0), t0.Add(10*24*time.Hour))
	never := newToken("bob", "never", t0)
	login := newToken("bob", "login", t0)
	login.Kind = model.KindLogin
	for _, tok := range []model.Token{soon, later, never, login} {
		mustCreateToken(t, s, tok)
	}
	rules := model.ExpiryRules{Login: model.ExpiryRule{MaxAge: 2 * time.Hour}}
	got, err := s.TokensExpiringBy(t0.Add(2*time.Hour), rules)
	if err != nil {
		t.Fatalf("TokensExpiringBy: %v", err)
	}
	if ids := idSet(got); len(got) != 2 || !ids[soon.ID] || !ids[login.ID] {
		t.Errorf("TokensExpiringBy(+2h) = %v, want soon and the login token", tokenNames(got))
	}
	if got, err := s.TokensExpiringBy(t0.Add(-time.Minute), rules); err != nil || len(got) != 0 {
		t.Errorf("TokensExpiringBy(before all) = %v, %v; want none", tokenNames(got), err)
	}
}

func testDeleteExpiredTokens(t *testing.T, s model.Store) {
	t0 := now()
	mustCreateUser(t, s, "alice")
	old := expiringAt(newToken("alice", "old", t0), t0.Add(time.Hour))
	recent := expiringAt(newToken("alice", "recent", t0), t0.Add(3*time.Hour))
	live := newToken("alice", "live", t0)
	for _, tok := range []model.Token{old, recent, live} {
		mustCreateTokenLimit(t, s, tok, 3)
	}
	deleted, err := s.DeleteExpiredTokens(t0.Add(2*time.Hour), model.ExpiryRules{})
	if err != nil {
		t.Fatalf("DeleteExpiredTokens: %v", err)
	}
	if len(deleted) != 1 || deleted[0].ID != old.ID {
		t.Errorf("DeleteExpiredTokens deleted %v, want old", tokenNames(deleted))
	}
	checkGone(t, s, old)
	checkTokens(t, s, "alice", recent, live)
	// The slot and the name are free again, counted as any revocation.
	again := newToken("alice", "old", t0.Add(time.Minute))
	mustCreateTokenLimit(t, s, again, 3)
	if n, err := s.TokenCount(); err != nil || n != 3 {
		t.Errorf("TokenCount = %d, %v; want 3", n, err)
	}
	if deleted, err := s.DeleteExpiredTokens(t0.Add(2*time.Hour), model.ExpiryRules{}); err != nil || len(deleted) != 0 {
		t.Errorf("second DeleteExpiredTokens = %v, %v; want none", tokenNames(deleted), err)
	}
}

func testMarkTokenNotified(t *testing.T, s model.Store) {
	t0 := now()
	tok := mustCreateOwner(t, s, "alice", t0, "ci")[0]
	exp := t0.Add(time.Hour)
	for i, want := range []bool{true, false} {
		set, err := s.MarkTokenNotified(tok.ID, model.EventTokenExpiring, exp)
		if err != nil || set != want {
			t.Fatalf("MarkTokenNotified #%d = %v, %v; want %v", i+1, set, err, want)
		}
	}
	// Another event, or a new expiry of the same event, is marked anew.
	if set, err := s.MarkTokenNotified(tok.ID, model.EventTokenExpired, exp); err != nil || !set {
		t.Errorf("MarkTokenNotified(expired) = %v, %v; want true", set, err)
	}
	if set, err := s.MarkTokenNotified(tok.ID, model.EventTokenExpiring, exp.Add(time.Hour)); err != nil || !set {
		t.Errorf("MarkTokenNotified(new expiry) = %v, %v; want true", set, err)
	}
	got, _, err := s.TokenByHash(tok.Hash)
	if err != nil {
		t.Fatalf("TokenByHash: %v", err)
	}
	if at := got.Notified[model.EventTokenExpiring]; !at.Equal(exp.Add(time.Hour)) {
		t.Errorf("Notified[expiring] = %v, want %v", at, exp.Add(time.Hour))
	}
	if _, err := s.MarkTokenNotified("no-such-id", model.EventTokenExpired, exp); err == nil {
		t.Error("MarkTokenNotified of an unknown id succeeded")
	}
}

func testRecordTokenUseWhere(t *testing.T, s model.Store) {
	t0 := now()
	tok := mustCreateOwner(t, s, "alice", t0, "ci")[0]
	use := model.TokenUse{At: t0.Add(time.Hour), Addr: "203.0.113.7", Client: "docker/28.2"}
	if err := s.RecordTokenUse(map[string]model.TokenUse{tok.ID: use}); err != nil {
		t.Fatalf("RecordTokenUse: %v", err)
	}
	// An older use does not overwrite where the newer one came from.
	older := model.TokenUse{At: t0.Add(time.Minute), Addr: "198.51.100.1", Client: "curl/8"}
	if err := s.RecordTokenUse(map[string]model.TokenUse{tok.ID: older}); err != nil {
		t.Fatalf("RecordTokenUse: %v", err)
	}
	for _, read := range []func() (model.Token, error){
		func() (model.Token, error) { got, _, err := s.TokenByHash(tok.Hash); return got, err },
		func() (model.Token, error) { list, err := s.Tokens("alice"); return list[0], err },
	} {
		got, err := read()
		if err != nil {
			t.Fatalf("reading the token: %v", err)
		}
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(use.At) || got.LastUsedAddr != use.Addr || got.LastUsedClient != use.Client {
			t.Errorf("last use = %v from %q, %q; want %v from %q, %q", got.LastUsedAt, got.LastUsedAddr, got.LastUsedClient, use.At, use.Addr, use.Client)
		}
	}
}

func idSet(list []model.Token) map[string]bool {
	ids := map[string]bool{}
	for _, t := range list {
		ids[t.ID] = true
	}
	return ids
}

func tokenNames(list []model.Token) []string {
	var names []string
	for _, t := range list {
		names = append(names, t.Name)
	}
	return names
}
