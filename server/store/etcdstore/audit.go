package etcdstore

import (
	"encoding/json"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// auditSeq is the audit log's counter: IDs are dense, from Oldest to Last.
type auditSeq struct {
	Last   uint64 `json:"last"`
	Oldest uint64 `json:"oldest"`
}

func (s *Store) readAuditSeq(op string) (auditSeq, int64, int64, error) {
	resp, err := s.get(op, s.k.auditSeq())
	if err != nil {
		return auditSeq{}, 0, 0, err
	}
	seq := auditSeq{Oldest: 1}
	var modRev int64
	if len(resp.Kvs) > 0 {
		if err := json.Unmarshal(resp.Kvs[0].Value, &seq); err != nil {
			return auditSeq{}, 0, 0, model.Unavailable(op, err)
		}
		modRev = resp.Kvs[0].ModRevision
	}
	seq.Oldest = max(seq.Oldest, 1)
	return seq, modRev, resp.Header.Revision, nil
}

// AddActivity implements model.Store. The entry takes the next ID of the
// counter key in the same Txn that compares it, and entries beyond keep are
// deleted from the oldest end in that Txn: one range, only the keys that
// fall out, so each call's work stays bounded.
func (s *Store) AddActivity(a model.Activity, keep int) error {
	const op = "writing audit log"
	return retry(op, func() (bool, error) {
		seq, modRev, _, err := s.readAuditSeq(op)
		if err != nil {
			return false, err
		}
		a.ID = seq.Last + 1
		next := auditSeq{Last: a.ID, Oldest: seq.Oldest}
		ops := []clientv3.Op{clientv3.OpPut(s.k.audit(a.ID), mustJSON(a))}
		if keep > 0 && a.ID-next.Oldest+1 > uint64(keep) {
			newOldest := a.ID - uint64(keep) + 1
			ops = append(ops, clientv3.OpDelete(s.k.audit(next.Oldest), clientv3.WithRange(s.k.audit(newOldest))))
			next.Oldest = newOldest
		}
		ops = append(ops, clientv3.OpPut(s.k.auditSeq(), mustJSON(next)))
		resp, err := s.txn(op, []clientv3.Cmp{unchanged(s.k.auditSeq(), modRev)}, ops, nil)
		if err != nil {
			return false, err
		}
		return resp.Succeeded, nil
	})
}

// Activities implements model.Store. IDs are dense, so a page is read as
// windows of keys going back from Before, each a bounded range at the
// revision of the counter read.
func (s *Store) Activities(q model.ActivityQuery) ([]model.Activity, error) {
	const op = "reading audit log"
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	seq, _, rev, err := s.readAuditSeq(op)
	if err != nil {
		return nil, err
	}
	var page []model.Activity
	hi := seq.Last
	if q.Before > 0 && q.Before-1 < hi {
		hi = q.Before - 1
	}
	window := uint64(limit)
	if q.User != "" {
		window = max(window, 256)
	}
	for hi >= seq.Oldest && hi > 0 && len(page) < limit {
		from := seq.Oldest
		if hi-seq.Oldest+1 > window {
			from = hi - window + 1
		}
		resp, err := s.get(op, s.k.audit(from), clientv3.WithRange(s.k.audit(hi+1)), clientv3.WithRev(rev))
		if err != nil {
			return nil, err
		}
		for i := len(resp.Kvs) - 1; i >= 0 && len(page) < limit; i-- {
			var a model.Activity
			if err := json.Unmarshal(resp.Kvs[i].Value, &a); err != nil {
				return nil, model.Unavailable(op, err)
			}
			if q.User != "" && a.Actor != q.User && a.Subject != q.User {
				continue
			}
			page = append(page, a)
		}
		hi = from - 1
	}
	return page, nil
}
