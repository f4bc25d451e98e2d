package etcdstore

import (
	"cmp"
	"encoding/json"
	"sort"
	"strconv"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// CreateToken implements model.Store. One Txn compares the owner (exists),
// the owner's count key (unchanged since read: the limit holds) and the
// name's key (absent, or for Replace unchanged since read: the old token is
// revoked by being overwritten), and writes the token and the new count.
func (s *Store) CreateToken(t model.NewToken) (*model.Token, error) {
	const op = "creating token"
	userKey, countKey, key := s.k.user(t.Owner), s.k.countOf(t.Owner, t.Kind), s.k.token(t.Owner, t.Name)
	var replaced *model.Token
	err := retry(op, func() (bool, error) {
		replaced = nil
		snap, err := s.read(op, clientv3.OpGet(userKey, clientv3.WithCountOnly()), clientv3.OpGet(countKey), clientv3.OpGet(key))
		if err != nil {
			return false, err
		}
		if snap.Responses[0].GetResponseRange().Count == 0 {
			return false, model.ErrNotFound
		}
		n, countRev, err := readCount(snap.Responses[1].GetResponseRange().Kvs)
		if err != nil {
			return false, model.Unavailable(op, err)
		}
		var nameRev int64
		if kvs := snap.Responses[2].GetResponseRange().Kvs; len(kvs) > 0 {
			if !t.Replace {
				return false, model.ErrNameTaken
			}
			var old model.Token
			if err := json.Unmarshal(kvs[0].Value, &old); err != nil {
				return false, model.Unavailable(op, err)
			}
			if old.Kind != t.Kind {
				return false, model.ErrNameTaken // Replace stays within a kind
			}
			replaced = &old
			nameRev = kvs[0].ModRevision
			n-- // the replaced token frees its slot in this transaction
		}
		if t.Limit > 0 && n >= t.Limit {
			if full, err := s.fullOfLive(op, t, replaced, n); err != nil || full {
				replaced = nil
				return false, cmp.Or(err, model.ErrTokenLimit)
			}
		}
		resp, err := s.authTxn(op,
			[]clientv3.Cmp{exists(userKey), unchanged(countKey, countRev), unchanged(key, nameRev)},
			[]clientv3.Op{
				clientv3.OpPut(key, mustJSON(t.Token)),
				clientv3.OpPut(countKey, strconv.Itoa(n+1)),
			}, nil)
		if err != nil {
			replaced = nil
			return false, err
		}
		return resp.Succeeded, nil
	})
	if err != nil {
		return nil, err
	}
	return replaced, nil
}

// readCount decodes a count key (absent: zero at revision 0).
func readCount(kvs []*mvccpb.KeyValue) (int, int64, error) {
	if len(kvs) == 0 {
		return 0, 0, nil
	}
	n, err := strconv.Atoi(string(kvs[0].Value))
	return n, kvs[0].ModRevision, err
}

// TokenByHash implements model.Store from the cache: no etcd round trip
// for a known token. An unknown hash is looked for once more after a
// barrier, so that a token created on another replica a moment ago works
// here at once.
func (s *Store) TokenByHash(hash []byte) (model.Token, model.User, error) {
	const op = "looking up token"
	if s.closed.Load() {
		return model.Token{}, model.User{}, model.Unavailable(op, errClosed)
	}
	t, u, res, err := s.cache.tokenByHash(hash, s.k.user)
	switch res {
	case hit:
		return t, u, nil
	case refused:
		return t, u, model.Unavailable(op, err)
	}
	if err := s.barrier(op); err != nil {
		return model.Token{}, model.User{}, err
	}
	t, u, res, err = s.cache.tokenByHash(hash, s.k.user)
	switch res {
	case hit:
		return t, u, nil
	case refused:
		return t, u, model.Unavailable(op, err)
	}
	return model.Token{}, model.User{}, model.ErrNotFound
}

// Tokens implements model.Store with a linearizable read.
func (s *Store) Tokens(owner string) ([]model.Token, error) {
	const op = "listing tokens"
	kvs, _, err := s.getAll(op, s.k.ownerTokens(owner), 0)
	if err != nil {
		return nil, err
	}
	list := make([]model.Token, 0, len(kvs))
	for _, kv := range kvs {
		var t model.Token
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, model.Unavailable(op, err)
		}
		list = append(list, t)
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].CreatedAt.Equal(list[j].CreatedAt) {
			return list[i].CreatedAt.Before(list[j].CreatedAt)
		}
		return list[i].ID < list[j].ID
	})
	return list, nil
}

// RevokeToken implements model.Store: the token's key and its kind's
// count change in one Txn that compares both.
func (s *Store) RevokeToken(owner, id string) (model.Token, error) {
	const op = "revoking token"
	var revoked model.Token
	appCount, loginCount := s.k.countOf(owner, model.KindApp), s.k.countOf(owner, model.KindLogin)
	err := retry(op, func() (bool, error) {
		snap, err := s.read(op, clientv3.OpGet(s.k.ownerTokens(owner), clientv3.WithPrefix()),
			clientv3.OpGet(appCount), clientv3.OpGet(loginCount))
		if err != nil {
			return false, err
		}
		var found *mvccpb.KeyValue
		for _, kv := range snap.Responses[0].GetResponseRange().Kvs {
			var t model.Token
			if err := json.Unmarshal(kv.Value, &t); err != nil {
				return false, model.Unavailable(op, err)
			}
			if t.ID == id && t.Owner == owner {
				found, revoked = kv, t
				break
			}
		}
		if found == nil {
			return false, model.ErrNotFound
		}
		countKey, counted := appCount, snap.Responses[1]
		if revoked.Login() {
			countKey, counted = loginCount, snap.Responses[2]
		}
		n, countRev, err := readCount(counted.GetResponseRange().Kvs)
		if err != nil {
			return false, model.Unavailable(op, err)
		}
		key := string(found.Key)
		resp, err := s.authTxn(op,
			[]clientv3.Cmp{unchanged(key, found.ModRevision), unchanged(countKey, countRev)},
			[]clientv3.Op{
				clientv3.OpDelete(key),
				clientv3.OpPut(countKey, strconv.Itoa(max(n-1, 0))),
			}, nil)
		if err != nil {
			return false, err
		}
		return resp.Succeeded, nil
	})
	if err != nil {
		return model.Token{}, err
	}
	return revoked, nil
}

// TokenCount implements model.Store from the cache.
func (s *Store) TokenCount() (int, error) {
	const op = "counting tokens"
	if s.closed.Load() {
		return 0, model.Unavailable(op, errClosed)
	}
	n, err := s.cache.tokenCount()
	if err != nil {
		return 0, model.Unavailable(op, err)
	}
	return n, nil
}

// useBatch is how many tokens one RecordTokenUse transaction updates; etcd
// allows 128 operations per transaction by default.
const useBatch = 100

// RecordTokenUse implements model.Store. Each batch is one Txn that
// compares every token it updates, so the newest time wins and a token
// revoked in between is not brought back.
func (s *Store) RecordTokenUse(uses map[string]model.TokenUse) error {
	const op = "recording token use"
	if s.closed.Load() {
		return model.Unavailable(op, errClosed)
	}
	type use struct {
		key, id string
		model.TokenUse
	}
	var pending []use
	for id, u := range uses {
		if key := s.cache.tokenKey(id); key != "" {
			pending = append(pending, use{key, id, u})
		}
	}
	for len(pending) > 0 {
		batch := pending[:min(len(pending), useBatch)]
		pending = pending[len(batch):]
		err := retry(op, func() (bool, error) {
			gets := make([]clientv3.Op, len(batch))
			for i, u := range batch {
				gets[i] = clientv3.OpGet(u.key)
			}
			snap, err := s.read(op, gets...)
			if err != nil {
				return false, err
			}
			var (
				cmps []clientv3.Cmp
				puts []clientv3.Op
			)
			for i, u := range batch {
				kvs := snap.Responses[i].GetResponseRange().Kvs
				if len(kvs) == 0 {
					continue // revoked since it was used
				}
				var t model.Token
				if err := json.Unmarshal(kvs[0].Value, &t); err != nil {
					return false, model.Unavailable(op, err)
				}
				if t.ID != u.id || !model.ApplyUse(&t, u.TokenUse) {
					continue // replaced by another token, or an older time
				}
				cmps = append(cmps, unchanged(u.key, kvs[0].ModRevision))
				puts = append(puts, clientv3.OpPut(u.key, mustJSON(t)))
			}
			if len(puts) == 0 {
				return true, nil
			}
			resp, err := s.authTxn(op, cmps, puts, nil)
			if err != nil {
				return false, err
			}
			return resp.Succeeded, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// getAll reads every key under prefix at one revision (0: now), in pages,
// and returns them with that revision.
func (s *Store) getAll(op, prefix string, rev int64) ([]*mvccpb.KeyValue, int64, error) {
	const page = 1000
	end := clientv3.GetPrefixRangeEnd(prefix)
	var all []*mvccpb.KeyValue
	key := prefix
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(page)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.get(op, key, opts...)
		if err != nil {
			return nil, 0, err
		}
		rev = resp.Header.Revision
		all = append(all, resp.Kvs...)
		if !resp.More || len(resp.Kvs) == 0 {
			return all, rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
