package etcdstore

import (
	"encoding/json"
	"strconv"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// CreateLoginToken implements model.Store. One Txn compares the owner
// (exists), the login count (unchanged since read: the cap holds), the
// name's key (absent) and every evicted token's key (unchanged: it is
// still the token chosen, with the last-used time it was chosen by), and
// deletes the evicted, writes the new token and the new count.
func (s *Store) CreateLoginToken(t model.NewToken) ([]model.Token, error) {
	const op = "creating login token"
	userKey, countKey, key := s.k.user(t.Owner), s.k.countOf(t.Owner, t.Kind), s.k.token(t.Owner, t.Name)
	var evicted []model.Token
	err := retry(op, func() (bool, error) {
		evicted = nil
		snap, err := s.read(op, clientv3.OpGet(userKey, clientv3.WithCountOnly()), clientv3.OpGet(countKey),
			clientv3.OpGet(key, clientv3.WithCountOnly()), clientv3.OpGet(s.k.ownerTokens(t.Owner), clientv3.WithPrefix()))
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
		if snap.Responses[2].GetResponseRange().Count > 0 {
			return false, model.ErrNameTaken
		}
		cmps := []clientv3.Cmp{exists(userKey), unchanged(countKey, countRev), unchanged(key, 0)}
		var ops []clientv3.Op
		if t.Limit > 0 && n >= t.Limit {
			same, revs, err := tokensOfKind(snap.Responses[3].GetResponseRange().Kvs, t.Kind)
			if err != nil {
				return false, model.Unavailable(op, err)
			}
			for _, old := range model.LeastActive(same, len(same)-t.Limit+1) {
				k := s.k.token(t.Owner, old.Name)
				cmps = append(cmps, unchanged(k, revs[old.ID]))
				ops = append(ops, clientv3.OpDelete(k))
				evicted = append(evicted, old)
			}
			n -= len(evicted)
		}
		ops = append(ops, clientv3.OpPut(key, mustJSON(t.Token)), clientv3.OpPut(countKey, strconv.Itoa(n+1)))
		resp, err := s.authTxn(op, cmps, ops, nil)
		if err != nil {
			return false, err
		}
		return resp.Succeeded, nil
	})
	if err != nil {
		return nil, err
	}
	return evicted, nil
}

// tokensOfKind decodes the tokens of kind in an owner's range, with the
// mod revision of each (by ID).
func tokensOfKind(kvs []*mvccpb.KeyValue, kind string) ([]model.Token, map[string]int64, error) {
	var list []model.Token
	revs := map[string]int64{}
	for _, kv := range kvs {
		var t model.Token
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, nil, err
		}
		if t.Kind == kind {
			list = append(list, t)
			revs[t.ID] = kv.ModRevision
		}
	}
	return list, revs, nil
}
