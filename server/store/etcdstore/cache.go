package etcdstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// Cache states.
const (
	stateLoading = iota // not loaded yet
	stateReady          // current as far as anyone knows
	stateStale          // known to have missed events: reloading
	stateClosed
)

// errStale is why reads fail while the cache resynchronises.
var errStale = errors.New("the cache is resynchronising with etcd after its watch broke")

// cache holds every user and token of the store, by etcd key, as of rev.
type cache struct {
	usersPrefix, tokensPrefix string

	mu      sync.RWMutex
	state   int
	rev     int64 // every event up to rev is applied
	users   map[string]model.User
	tokens  map[string]model.Token
	byHash  map[string]string // string(hash) → token key
	byID    map[string]string // token id → token key
	changed chan struct{}     // closed, and replaced, when rev or state changes
}

func newCache(prefix string) *cache {
	k := keys{prefix: prefix}
	return &cache{
		usersPrefix:  k.usersPrefix(),
		tokensPrefix: k.tokensPrefix(),
		users:        map[string]model.User{},
		tokens:       map[string]model.Token{},
		byHash:       map[string]string{},
		byID:         map[string]string{},
		changed:      make(chan struct{}),
	}
}

// notify wakes the waiters; c.mu must be held for writing.
func (c *cache) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// replace installs a full load at rev.
func (c *cache) replace(kvs []*mvccpb.KeyValue, rev int64) error {
	fresh := newCache("")
	fresh.usersPrefix, fresh.tokensPrefix = c.usersPrefix, c.tokensPrefix
	for _, kv := range kvs {
		if err := fresh.put(kv); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateClosed {
		return errClosed
	}
	c.users, c.tokens, c.byHash, c.byID = fresh.users, fresh.tokens, fresh.byHash, fresh.byID
	c.rev = rev
	c.state = stateReady
	c.notify()
	return nil
}

// apply applies watch events in order.
func (c *cache) apply(events []*clientv3.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateReady {
		return nil
	}
	var err error
	for _, ev := range events {
		switch ev.Type {
		case mvccpb.PUT:
			err = errors.Join(err, c.put(ev.Kv))
		case mvccpb.DELETE:
			c.del(string(ev.Kv.Key))
		}
		if ev.Kv.ModRevision > c.rev {
			c.rev = ev.Kv.ModRevision
		}
	}
	c.notify()
	return err
}

// put stores one key; c.mu must be held (or c unshared).
func (c *cache) put(kv *mvccpb.KeyValue) error {
	key := string(kv.Key)
	switch {
	case strings.HasPrefix(key, c.usersPrefix):
		var u model.User
		if err := json.Unmarshal(kv.Value, &u); err != nil {
			return fmt.Errorf("user at %s: %w", key, err)
		}
		c.users[key] = u
	case strings.HasPrefix(key, c.tokensPrefix):
		var t model.Token
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return fmt.Errorf("token at %s: %w", key, err)
		}
		c.del(key) // a replaced token leaves the indexes
		c.tokens[key] = t
		c.byHash[string(t.Hash)] = key
		c.byID[t.ID] = key
	}
	return nil
}

func (c *cache) del(key string) {
	if t, ok := c.tokens[key]; ok {
		delete(c.tokens, key)
		if c.byHash[string(t.Hash)] == key {
			delete(c.byHash, string(t.Hash))
		}
		if c.byID[t.ID] == key {
			delete(c.byID, t.ID)
		}
		return
	}
	delete(c.users, key)
}

// markStale records that events were missed.
func (c *cache) markStale() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateReady {
		c.state = stateStale
		c.notify()
	}
}

func (c *cache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = stateClosed
	c.notify()
}

// revision returns the revision the cache is current at.
func (c *cache) revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// usable returns nil when the cache may serve reads.
func (c *cache) usableLocked() error {
	switch c.state {
	case stateReady:
		return nil
	case stateClosed:
		return errClosed
	default:
		return errStale
	}
}

// waitFor waits until the cache is ready at rev or later, or ctx ends.
func (c *cache) waitFor(ctx context.Context, rev int64) bool {
	for {
		c.mu.RLock()
		ok := c.state == stateReady && c.rev >= rev
		closed := c.state == stateClosed
		ch := c.changed
		c.mu.RUnlock()
		if ok {
			return true
		}
		if closed {
			return false
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// cloneToken copies t so that the caller cannot change the cache.
func cloneToken(t model.Token) model.Token {
	t.Hash = bytes.Clone(t.Hash)
	if t.ExpiresAt != nil {
		v := *t.ExpiresAt
		t.ExpiresAt = &v
	}
	if t.LastUsedAt != nil {
		v := *t.LastUsedAt
		t.LastUsedAt = &v
	}
	return t
}

// lookup results: found, not in the cache, or the cache may not serve.
type lookup int

const (
	hit lookup = iota
	miss
	refused
)

// tokenByHash looks a token and its owner up.
func (c *cache) tokenByHash(hash []byte, userKey func(string) string) (model.Token, model.User, lookup, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if err := c.usableLocked(); err != nil {
		return model.Token{}, model.User{}, refused, err
	}
	key, ok := c.byHash[string(hash)]
	if !ok {
		return model.Token{}, model.User{}, miss, nil
	}
	t := c.tokens[key]
	u, ok := c.users[userKey(t.Owner)]
	if !ok {
		return model.Token{}, model.User{}, miss, nil
	}
	return cloneToken(t), u, hit, nil
}

// user looks a user up by key.
func (c *cache) user(key string) (model.User, lookup, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if err := c.usableLocked(); err != nil {
		return model.User{}, refused, err
	}
	u, ok := c.users[key]
	if !ok {
		return u, miss, nil
	}
	return u, hit, nil
}

// tokenKey returns the key of the token with this id, "" if unknown. A
// stale cache still answers: the caller checks the key in a transaction.
func (c *cache) tokenKey(id string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byID[id]
}

// tokenCount counts the cached tokens.
func (c *cache) tokenCount() (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if err := c.usableLocked(); err != nil {
		return 0, err
	}
	return len(c.tokens), nil
}

// reload reads everything under auth/ at one revision and installs it.
func (s *Store) reload() error {
	const op = "loading the cache"
	kvs, rev, err := s.getAll(op, s.k.authPrefix(), 0)
	if err != nil {
		return err
	}
	if err := s.cache.replace(kvs, rev); err != nil {
		return model.Unavailable(op, err)
	}
	return nil
}

// watchLoop keeps the cache current: it watches from the cache's revision
// and, whenever the watch breaks, marks the cache stale and reloads it.
func (s *Store) watchLoop() {
	defer s.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		s.watch()
		if s.ctx.Err() != nil {
			return
		}
		s.cache.markStale()
		for {
			if hook := s.beforeReload.Load(); hook != nil {
				(*hook)()
			}
			err := s.reload()
			if err == nil {
				s.log.Info("etcd store: cache resynchronised", "revision", s.cache.revision())
				backoff = 50 * time.Millisecond
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			s.log.Warn("etcd store: reloading the cache failed; tokens are refused until it succeeds", "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// watch applies events until the watch breaks or the store closes.
func (s *Store) watch() {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	s.watchMu.Lock()
	s.watchCancel = cancel
	s.watchMu.Unlock()
	// No WithRequireLeader: through an election the watch waits (and the
	// client moves it to another member), and the cache keeps serving.
	wch := s.cli.Watch(ctx, s.k.authPrefix(), clientv3.WithPrefix(), clientv3.WithRev(s.cache.revision()+1))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("etcd store: the watch broke; resynchronising the cache", "err", err, "compact_revision", resp.CompactRevision)
			}
			return
		}
		if resp.Canceled {
			return
		}
		if s.dropEvents.Load() {
			continue
		}
		if err := s.cache.apply(resp.Events); err != nil {
			s.log.Error("etcd store: unreadable record; resynchronising the cache", "err", err)
			return
		}
	}
	if s.ctx.Err() == nil && ctx.Err() == nil {
		s.log.Warn("etcd store: the watch closed; resynchronising the cache")
	}
}

// restartWatch makes the watch loop treat the cache as stale and reload.
func (s *Store) restartWatch() {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.watchCancel != nil {
		s.watchCancel()
	}
}

// checkLoop catches a watch that is open but no longer delivers (a member
// cut off from the others, a stuck stream): every check interval it asks
// etcd, linearizably, for the newest write under auth/; a cache that stays
// behind it for longer than the lag limit is stale and reloaded. When etcd
// does not answer, nothing is known and the cache keeps serving.
func (s *Store) checkLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.check)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		resp, err := s.get("checking the cache", s.k.epoch())
		if err != nil || len(resp.Kvs) == 0 {
			continue
		}
		want := resp.Kvs[0].ModRevision
		ctx, cancel := context.WithTimeout(s.ctx, s.lagMax)
		ok := s.cache.waitFor(ctx, want)
		cancel()
		if !ok && s.ctx.Err() == nil {
			s.cache.mu.RLock()
			ready := s.cache.state == stateReady
			s.cache.mu.RUnlock()
			if ready {
				s.log.Warn("etcd store: the cache is behind etcd; resynchronising", "cache_revision", s.cache.revision(), "etcd_revision", want)
				s.cache.markStale()
				s.restartWatch()
			}
		}
	}
}
