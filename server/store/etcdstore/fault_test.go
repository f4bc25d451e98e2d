package etcdstore

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/model"
)

// checkCount fails unless the owner's count key agrees with the tokens
// listed: the invariant the limit rests on.
func checkCount(t *testing.T, s *Store, owner string) []model.Token {
	t.Helper()
	list, err := s.Tokens(owner)
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	resp, err := s.get("test", s.k.count(owner))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if len(resp.Kvs) > 0 {
		n, _ = strconv.Atoi(string(resp.Kvs[0].Value))
	}
	if n != len(list) {
		t.Errorf("count key of %s says %d, but %d tokens are stored", owner, n, len(list))
	}
	for _, tok := range list {
		if got, _, err := s.TokenByHash(tok.Hash); err != nil || got.ID != tok.ID {
			t.Errorf("stored token %s: TokenByHash = %s, %v", tok.ID, got.ID, err)
		}
	}
	return list
}

// TestFaults kills etcd members under a store: a lost quorum and a
// leader killed in the middle of a stream of writes.
func TestFaults(t *testing.T) {
	c := testetcd.Start(t, 3)
	t.Run("QuorumLost", func(t *testing.T) { testQuorumLost(t, c) })
	t.Run("LeaderKilledMidStream", func(t *testing.T) { testLeaderKilled(t, c) })
}

// testQuorumLost: with two of three members dead, writes cannot commit.
// They fail with ErrUnavailable after the timeout — their outcome is
// unknown, never reported as success — while known tokens keep working
// from the cache.
func testQuorumLost(t *testing.T, c *testetcd.Cluster) {
	s := open(t, c, Options{RequestTimeout: 700 * time.Millisecond})
	mustUser(t, s, "alice")
	tok := mustToken(t, s, "alice", "ci")

	c.Kill(1)
	c.Kill(2)
	start := time.Now()
	if _, _, err := s.TokenByHash(tok.Hash); err != nil {
		t.Errorf("TokenByHash without a quorum = %v, want the cached token", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("TokenByHash without a quorum took %v", d)
	}
	unknown := newToken("alice", "unknown")
	_, err := s.CreateToken(model.NewToken{Token: unknown, Limit: 5})
	if !errors.Is(err, model.ErrUnavailable) {
		t.Fatalf("CreateToken without a quorum = %v, want ErrUnavailable", err)
	}
	if _, err := s.RevokeToken("alice", tok.ID); !errors.Is(err, model.ErrUnavailable) {
		t.Errorf("RevokeToken without a quorum = %v, want ErrUnavailable", err)
	}
	t.Logf("CreateToken without a quorum failed after %v: %v", time.Since(start), err)

	for _, i := range []int{1, 2} {
		if err := c.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitHealthy(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The store works again and its invariants hold whatever became of
	// the writes whose outcome was unknown.
	within(t, 10*time.Second, "writes after the quorum is back", func() bool {
		_, err := s.CreateToken(model.NewToken{Token: newToken("alice", "after"), Limit: 5})
		return err == nil
	})
	list := checkCount(t, s, "alice")
	t.Logf("after the outage alice holds %d tokens (the unknown create %s)", len(list),
		map[bool]string{true: "committed", false: "did not commit"}[func() bool {
			_, _, err := s.TokenByHash(unknown.Hash)
			return err == nil
		}()])
}

// testLeaderKilled runs creations from several goroutines and SIGKILLs the
// leader among them. Every creation that returned success must be there
// afterwards; the failed ones may or may not be, and the count agrees.
func testLeaderKilled(t *testing.T, c *testetcd.Cluster) {
	s := open(t, c, Options{RequestTimeout: 2 * time.Second})
	mustUser(t, s, "bob")
	cli := c.Client(t)
	var (
		mu     sync.Mutex
		acked  []model.Token
		failed atomic.Int32
		stop   atomic.Bool
		wg     sync.WaitGroup
		seq    atomic.Int32
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				tok := newToken("bob", fmt.Sprintf("t%04d", seq.Add(1)))
				if _, err := s.CreateToken(model.NewToken{Token: tok, Limit: 10000}); err != nil {
					if !errors.Is(err, model.ErrUnavailable) {
						t.Errorf("CreateToken: %v", err)
					}
					failed.Add(1)
					continue
				}
				mu.Lock()
				acked = append(acked, tok)
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	leader, err := c.Leader(cli)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(leader)
	time.Sleep(700 * time.Millisecond)
	if err := c.Restart(leader); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if err := c.WaitHealthy(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	list := checkCount(t, s, "bob")
	stored := map[string]bool{}
	for _, tok := range list {
		stored[tok.ID] = true
	}
	lost := 0
	for _, tok := range acked {
		if !stored[tok.ID] {
			lost++
		}
		delete(stored, tok.ID)
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged creations are lost", lost, len(acked))
	}
	t.Logf("leader m%d killed: %d creations acknowledged, %d failed with ErrUnavailable (of which %d committed after all), %d stored",
		leader+1, len(acked), failed.Load(), len(stored), len(list))
	if len(acked) == 0 {
		t.Error("no creation succeeded")
	}
}
