package etcdstore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// Retired secrets (model.Rotation) are kept outside auth/, so the caches
// never hold them: only a hash the cache does not know (a wrong token, or
// an old secret) costs the round trip that reads them.
//
//	P retired/HEX(hash)              model.RetiredSecret
//	P retired-expiry/%020d/HEX(hash) empty: by KeepUntil (Unix ns), the
//	                                 order in which rotations prune them
func (k keys) retired(hash []byte) string  { return k.prefix + "retired/" + hex.EncodeToString(hash) }
func (k keys) retiredExpiryPrefix() string { return k.prefix + "retired-expiry/" }
func (k keys) retiredExpiry(until time.Time, hash []byte) string {
	return fmt.Sprintf("%s%020d/%s", k.retiredExpiryPrefix(), until.UnixNano(), hex.EncodeToString(hash))
}

// retiredPruneBatch is how many stale records one rotation removes: two
// operations each, well within etcd's 128 per transaction.
const retiredPruneBatch = 40

// RotateToken implements model.Store: one Txn compares the token's key
// (unchanged since it was read with the hash r.From) and writes the token,
// the retired record and its expiry entry, and deletes stale records.
func (s *Store) RotateToken(r model.Rotation) (model.Token, error) {
	const op = "rotating token"
	var rotated model.Token
	err := retry(op, func() (bool, error) {
		snap, err := s.read(op, clientv3.OpGet(s.k.ownerTokens(r.Owner), clientv3.WithPrefix()),
			clientv3.OpGet(s.k.retiredExpiryPrefix(), clientv3.WithRange(s.k.retiredExpiry(r.At, nil)), clientv3.WithKeysOnly(), clientv3.WithLimit(retiredPruneBatch)))
		if err != nil {
			return false, err
		}
		found, t, err := tokenWithID(snap.Responses[0].GetResponseRange().Kvs, r.ID)
		if err != nil {
			return false, model.Unavailable(op, err)
		}
		if found == nil {
			return false, model.ErrNotFound
		}
		if !bytes.Equal(t.Hash, r.From) {
			return false, model.ErrRotated
		}
		t.Hash, t.ExpiresAt, t.RotatedAt = r.Hash, r.ExpiresAt, r.At
		ops := []clientv3.Op{
			clientv3.OpPut(string(found.Key), mustJSON(t)),
			clientv3.OpPut(s.k.retired(r.From), mustJSON(r.Retired(t.Name))),
			clientv3.OpPut(s.k.retiredExpiry(r.KeepUntil, r.From), ""),
		}
		for _, kv := range snap.Responses[1].GetResponseRange().Kvs {
			_, h, _ := strings.Cut(strings.TrimPrefix(string(kv.Key), s.k.retiredExpiryPrefix()), "/")
			ops = append(ops, clientv3.OpDelete(string(kv.Key)), clientv3.OpDelete(s.k.prefix+"retired/"+h))
		}
		resp, err := s.authTxn(op, []clientv3.Cmp{unchanged(string(found.Key), found.ModRevision)}, ops, nil)
		if err != nil {
			return false, err
		}
		rotated = t
		return resp.Succeeded, nil
	})
	if err != nil {
		return model.Token{}, err
	}
	return rotated, nil
}

// tokenWithID finds the token id among an owner's token keys.
func tokenWithID(kvs []*mvccpb.KeyValue, id string) (*mvccpb.KeyValue, model.Token, error) {
	for _, kv := range kvs {
		var t model.Token
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, t, err
		}
		if t.ID == id {
			return kv, t, nil
		}
	}
	return nil, model.Token{}, nil
}

// SecretByHash implements model.Store: a live hash from the cache as
// TokenByHash finds it, a retired one with one linearizable read.
func (s *Store) SecretByHash(hash []byte, now time.Time) (model.Token, model.User, error) {
	const op = "looking up a retired secret"
	t, u, err := s.TokenByHash(hash)
	if !errors.Is(err, model.ErrNotFound) {
		return t, u, err
	}
	resp, err := s.get(op, s.k.retired(hash))
	if err != nil {
		return model.Token{}, model.User{}, err
	}
	if len(resp.Kvs) == 0 {
		return model.Token{}, model.User{}, model.ErrNotFound
	}
	var rec model.RetiredSecret
	if err := json.Unmarshal(resp.Kvs[0].Value, &rec); err != nil {
		return model.Token{}, model.User{}, model.Unavailable(op, err)
	}
	// TokenByHash's barrier made the cache current: it knows the token.
	cur, u, ok := s.cache.tokenByID(rec.TokenID, s.k.user)
	t, err = rec.Resolve(cur, ok, hash, now)
	if err != nil {
		return model.Token{}, model.User{}, err
	}
	return t, u, nil
}

// tokenByID looks a token and its owner up by the token's id.
func (c *cache) tokenByID(id string, userKey func(string) string) (model.Token, model.User, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tokens[c.byID[id]]
	if !ok {
		return model.Token{}, model.User{}, false
	}
	u, ok := c.users[userKey(t.Owner)]
	return cloneToken(t), u, ok
}
