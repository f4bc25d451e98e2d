package etcdstore

import (
	"encoding/json"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// EndRetiredGrace implements model.Store: a compare on the record's
// revision, so that a rotation's pruning that deletes it meanwhile is not
// undone by writing it back (without its expiry entry).
func (s *Store) EndRetiredGrace(hash []byte, at time.Time) error {
	const op = "ending a retired secret's grace"
	key := s.k.retired(hash)
	return retry(op, func() (bool, error) {
		resp, err := s.get(op, key)
		if err != nil {
			return false, err
		}
		if len(resp.Kvs) == 0 {
			return false, model.ErrNotFound
		}
		var rec model.RetiredSecret
		if err := json.Unmarshal(resp.Kvs[0].Value, &rec); err != nil {
			return false, model.Unavailable(op, err)
		}
		if !rec.GraceUntil.After(at) {
			return true, nil
		}
		rec.GraceUntil = at
		txn, err := s.txn(op, []clientv3.Cmp{unchanged(key, resp.Kvs[0].ModRevision)}, []clientv3.Op{clientv3.OpPut(key, mustJSON(rec))}, nil)
		if err != nil {
			return false, err
		}
		return txn.Succeeded, nil
	})
}
