package etcdstore

import (
	"encoding/json"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// getBatch bounds the Gets of one read Txn (etcd refuses more than 128).
const getBatch = 100

// Activities implements model.Store: without a user, the newest keys
// below Before of both logs in one read, merged; with one, the newest keys
// of the user's index and then the entries they name, at the index's
// revision.
func (s *Store) Activities(q model.ActivityQuery) ([]model.Activity, error) {
	const op = "reading audit log"
	before, limit := q.Range()
	if q.User != "" {
		return s.userPage(op, q.User, before, limit)
	}
	newest := func(prefix string) clientv3.Op {
		return clientv3.OpGet(prefix, clientv3.WithRange(auditKey(prefix, before)),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(limit)))
	}
	resp, err := s.read(op, newest(s.k.auditLogPrefix()), newest(s.k.auditFailuresPrefix()))
	if err != nil {
		return nil, err
	}
	hist, fails := resp.Responses[0].GetResponseRange().Kvs, resp.Responses[1].GetResponseRange().Kvs
	var page []model.Activity
	for len(page) < limit && (len(hist) > 0 || len(fails) > 0) {
		var v []byte
		if len(hist) == 0 || (len(fails) > 0 && s.newer(fails[0], hist[0])) {
			v, fails = fails[0].Value, fails[1:]
		} else {
			v, hist = hist[0].Value, hist[1:]
		}
		var a model.Activity
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, model.Unavailable(op, err)
		}
		page = append(page, a)
	}
	return page, nil
}

// newer reports whether failure entry f has a higher ID than history
// entry h.
func (s *Store) newer(f, h *mvccpb.KeyValue) bool {
	return idOf(s.k.auditFailuresPrefix(), string(f.Key)) > idOf(s.k.auditLogPrefix(), string(h.Key))
}

// userPage reads the newest limit keys below before of user's index and
// the entries they name, all at one revision.
func (s *Store) userPage(op, user string, before uint64, limit int) ([]model.Activity, error) {
	prefix := s.k.auditUserPrefix(user)
	idx, err := s.get(op, prefix, clientv3.WithRange(auditKey(prefix, before)),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var page []model.Activity
	for start := 0; start < len(idx.Kvs); start += getBatch {
		kvs := idx.Kvs[start:min(start+getBatch, len(idx.Kvs))]
		ops := make([]clientv3.Op, len(kvs))
		for i, kv := range kvs {
			id := idOf(prefix, string(kv.Key))
			ops[i] = clientv3.OpGet(auditKey(s.logPrefix(string(kv.Value) == "f"), id), clientv3.WithRev(idx.Header.Revision))
		}
		resp, err := s.read(op, ops...)
		if err != nil {
			return nil, err
		}
		for _, r := range resp.Responses {
			got := r.GetResponseRange().Kvs
			if len(got) == 0 {
				// Pruned by a replica that did not keep the index (an older
				// version during an upgrade): the page goes on without it.
				continue
			}
			var a model.Activity
			if err := json.Unmarshal(got[0].Value, &a); err != nil {
				return nil, model.Unavailable(op, err)
			}
			page = append(page, a)
		}
	}
	return page, nil
}
