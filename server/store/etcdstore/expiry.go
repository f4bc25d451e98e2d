package etcdstore

import (
	"encoding/json"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// The expiry rules in the store (model/expiry.go): expired tokens free
// their slot, the sweep lists, deletes and marks them. The count keys
// count every stored token; what is expired is decided at each read.

// fullOfLive reports whether owner's live tokens of t's kind fill t's
// limit, given n of them stored once replaced (if any) is gone. It reads
// the owner's tokens only when the count alone says full. The caller's
// Txn compares the count key, so a token deleted or added in between
// makes it retry.
func (s *Store) fullOfLive(op string, t model.NewToken, replaced *model.Token, n int) (bool, error) {
	if t.Now.IsZero() {
		return true, nil
	}
	kvs, _, err := s.getAll(op, s.k.ownerTokens(t.Owner), 0)
	if err != nil {
		return false, err
	}
	live := n
	for _, kv := range kvs {
		var held model.Token
		if err := json.Unmarshal(kv.Value, &held); err != nil {
			return false, model.Unavailable(op, err)
		}
		if held.Kind == t.Kind && !t.Counts(held) && (replaced == nil || held.ID != replaced.ID) {
			live--
		}
	}
	return live >= t.Limit, nil
}

// expiring reads every token that expires under rules by at, with its key.
func (s *Store) expiring(op string, at time.Time, rules model.ExpiryRules) ([]model.Token, []*mvccpb.KeyValue, error) {
	kvs, _, err := s.getAll(op, s.k.tokensPrefix(), 0)
	if err != nil {
		return nil, nil, err
	}
	var (
		list []model.Token
		keys []*mvccpb.KeyValue
	)
	for _, kv := range kvs {
		var t model.Token
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, nil, model.Unavailable(op, err)
		}
		if exp := t.ExpiryTime(rules.For(t)); exp != nil && !exp.After(at) {
			list, keys = append(list, t), append(keys, kv)
		}
	}
	return list, keys, nil
}

// TokensExpiringBy implements model.Store with a linearizable read.
func (s *Store) TokensExpiringBy(at time.Time, rules model.ExpiryRules) ([]model.Token, error) {
	list, _, err := s.expiring("listing expiring tokens", at, rules)
	return list, err
}

// DeleteExpiredTokens implements model.Store: each token goes in a Txn
// of its own that compares the token (unchanged since it was found
// expired) and its kind's count.
func (s *Store) DeleteExpiredTokens(before time.Time, rules model.ExpiryRules) ([]model.Token, error) {
	const op = "deleting expired tokens"
	list, kvs, err := s.expiring(op, before, rules)
	if err != nil {
		return nil, err
	}
	var deleted []model.Token
	for i, t := range list {
		countKey := s.k.countOf(t.Owner, t.Kind)
		gone := false
		err := retry(op, func() (bool, error) {
			snap, err := s.read(op, clientv3.OpGet(countKey))
			if err != nil {
				return false, err
			}
			n, countRev, err := readCount(snap.Responses[0].GetResponseRange().Kvs)
			if err != nil {
				return false, model.Unavailable(op, err)
			}
			key := string(kvs[i].Key)
			resp, err := s.authTxn(op,
				[]clientv3.Cmp{unchanged(key, kvs[i].ModRevision), unchanged(countKey, countRev)},
				[]clientv3.Op{clientv3.OpDelete(key), clientv3.OpPut(countKey, strconv.Itoa(max(n-1, 0)))},
				[]clientv3.Op{clientv3.OpGet(key)})
			if err != nil {
				return false, err
			}
			if resp.Succeeded {
				gone = true
				return true, nil
			}
			// Changed since the listing (used, marked, revoked): the
			// next sweep decides on what it is then.
			cur := resp.Responses[0].GetResponseRange().Kvs
			return len(cur) == 0 || cur[0].ModRevision != kvs[i].ModRevision, nil
		})
		if err != nil {
			return deleted, err
		}
		if gone {
			deleted = append(deleted, t)
		}
	}
	return deleted, nil
}

// MarkTokenNotified implements model.Store with a Txn that compares the
// token, so that of two replicas marking at once one wins.
func (s *Store) MarkTokenNotified(id, event string, expiry time.Time) (bool, error) {
	const op = "marking token notified"
	key := s.cache.tokenKey(id)
	if key == "" {
		if err := s.barrier(op); err != nil {
			return false, err
		}
		if key = s.cache.tokenKey(id); key == "" {
			return false, model.ErrNotFound
		}
	}
	set := false
	err := retry(op, func() (bool, error) {
		resp, err := s.get(op, key)
		if err != nil {
			return false, err
		}
		if len(resp.Kvs) == 0 {
			return false, model.ErrNotFound
		}
		var t model.Token
		if err := json.Unmarshal(resp.Kvs[0].Value, &t); err != nil {
			return false, model.Unavailable(op, err)
		}
		if t.ID != id {
			return false, model.ErrNotFound
		}
		if set = model.MarkNotified(&t, event, expiry); !set {
			return true, nil
		}
		txn, err := s.authTxn(op, []clientv3.Cmp{unchanged(key, resp.Kvs[0].ModRevision)},
			[]clientv3.Op{clientv3.OpPut(key, mustJSON(t))}, nil)
		if err != nil {
			return false, err
		}
		return txn.Succeeded, nil
	})
	return set, err
}
