package account

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apptoken"
)

// callLog is a store that records the calls the service makes on the
// verification path, with the hashes it looks up.
type callLog struct {
	model.Store

	mu     sync.Mutex
	calls  []string
	hashes [][]byte
}

func (c *callLog) record(call string) {
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
}

func (c *callLog) take() (calls []string, hashes [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, hashes = c.calls, c.hashes
	c.calls, c.hashes = nil, nil
	return calls, hashes
}

func (c *callLog) SecretByHash(hash []byte, now time.Time) (model.Token, model.User, error) {
	c.mu.Lock()
	c.calls = append(c.calls, "SecretByHash")
	c.hashes = append(c.hashes, bytes.Clone(hash))
	c.mu.Unlock()
	return c.Store.SecretByHash(hash, now)
}

func (c *callLog) User(name string) (model.User, error) {
	c.record("User")
	return c.Store.User(name)
}

func (c *callLog) Users() ([]model.User, error) {
	c.record("Users")
	return c.Store.Users()
}

func (c *callLog) Tokens(owner string) ([]model.Token, error) {
	c.record("Tokens")
	return c.Store.Tokens(owner)
}

func (c *callLog) AddActivity(a model.Activity, keep int) error {
	c.record("AddActivity")
	return c.Store.AddActivity(a, keep)
}

func (c *callLog) RecordTokenUse(uses map[string]model.TokenUse) error {
	c.record("RecordTokenUse")
	return c.Store.RecordTokenUse(uses)
}

func (c *callLog) SessionByID(id []byte) (model.Session, model.User, error) {
	c.record("SessionByID")
	return c.Store.SessionByID(id)
}

// TestTokenVerificationTakesOnePath: a well-formed token that does not
// exist, one that was revoked, and a real token presented with another
// user's name all cost the same work — one HMAC, exactly one SecretByHash
// with that HMAC, and the same store calls after it — so that neither the
// answer nor the work done tells an attacker which tokens exist. This holds
// on every entry point that accepts tokens.
func TestTokenVerificationTakesOnePath(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "alice-password", false)
	f.user(t, "bob", "bob-password", false)
	_, aliceTok := f.token(t, "alice", "laptop")
	_, bobTok := f.token(t, "bob", "laptop")
	revokedID, revokedTok := f.token(t, "alice", "old")
	if err := f.svc.RevokeToken(Actor{Name: "alice"}, "alice", revokedID); err != nil {
		t.Fatal(err)
	}
	forged, err := apptoken.New()
	if err != nil {
		t.Fatal(err)
	}
	log := &callLog{Store: f.spy}
	f.svc.store = log

	entries := map[string]func(name, secret, ip string) (Principal, error){
		"AuthenticateToken":    f.svc.AuthenticateToken,
		"Authenticate":         f.svc.Authenticate,
		"AuthenticateRegistry": f.svc.AuthenticateRegistry,
	}
	for _, entry := range []string{"AuthenticateToken", "Authenticate", "AuthenticateRegistry"} {
		authenticate := entries[entry]
		var reference []string
		for i, c := range []struct{ what, secret string }{
			{"unknown token", forged},
			{"revoked token", revokedTok},
			{"another user's token", bobTok},
		} {
			// A new address each time, and quiet time in between: the
			// throttle and the audit log's flood guard start afresh.
			f.clock.Advance(11 * time.Minute)
			ip := fmt.Sprintf("198.51.100.%d", i+1)
			log.take()
			if _, err := authenticate("alice", c.secret, ip); err != ErrAuthFailed {
				t.Fatalf("%s, %s: %v, want ErrAuthFailed", entry, c.what, err)
			}
			calls, hashes := log.take()
			lookups := 0
			for _, call := range calls {
				if call == "SecretByHash" {
					lookups++
				}
			}
			if lookups != 1 || len(hashes) != 1 || !bytes.Equal(hashes[0], f.svc.TokenHash(c.secret)) {
				t.Errorf("%s, %s: %d SecretByHash calls, want exactly one with the token's HMAC (calls %v)", entry, c.what, lookups, calls)
			}
			if calls[0] != "SecretByHash" {
				t.Errorf("%s, %s: the store was asked %v before the token lookup", entry, c.what, calls)
			}
			if reference == nil {
				reference = calls
			} else if fmt.Sprint(calls) != fmt.Sprint(reference) {
				t.Errorf("%s: %s made the store calls %v, the unknown token %v", entry, c.what, calls, reference)
			}
		}
		// The right owner's token takes the same single lookup.
		f.clock.Advance(11 * time.Minute)
		log.take()
		if _, err := authenticate("alice", aliceTok, "198.51.100.9"); err != nil {
			t.Fatalf("%s with alice's own token: %v", entry, err)
		}
		if calls, _ := log.take(); fmt.Sprint(calls) != "[SecretByHash]" {
			t.Errorf("%s with alice's own token: store calls %v, want [SecretByHash]", entry, calls)
		}
	}

	// A token whose checksum is wrong is refused before any lookup: that
	// reveals nothing, since the checksum is public arithmetic.
	typo := []byte(aliceTok)
	typo[len(typo)-1] ^= 1
	f.clock.Advance(11 * time.Minute)
	log.take()
	if _, err := f.svc.AuthenticateToken("alice", string(typo), "198.51.100.10"); err != ErrAuthFailed {
		t.Fatalf("token with a typo: %v", err)
	}
	for _, call := range func() []string { c, _ := log.take(); return c }() {
		if call == "SecretByHash" {
			t.Error("a token with a bad checksum was looked up")
		}
	}
}
