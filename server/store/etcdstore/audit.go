package etcdstore

import (
	"encoding/json"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// auditSeq is the audit log's counter key: the newest ID of both logs and
// the size of each, so that pruning knows how far a log is over its cap
// (IDs of one log are not dense). Every audit write rewrites it, and
// compares it: that orders the writers.
type auditSeq struct {
	Last     uint64 `json:"last"`
	Layout   int    `json:"layout,omitempty"`
	History  uint64 `json:"history"`
	Failures uint64 `json:"failures"`
}

// auditLayout is auditSeq.Layout of this version; a counter without it is
// the old layout, one log and no index (migrateAudit).
const auditLayout = 2

// pruneBatch bounds the entries one transaction prunes: each costs up to
// two index deletes, and etcd refuses a Txn of more than 128 operations.
const pruneBatch = 50

// count returns the size field of the log that failure names.
func (q *auditSeq) count(failure bool) *uint64 {
	if failure {
		return &q.Failures
	}
	return &q.History
}

func (s *Store) readAuditSeq(op string) (auditSeq, int64, error) {
	resp, err := s.get(op, s.k.auditSeq())
	if err != nil {
		return auditSeq{}, 0, err
	}
	var seq auditSeq
	var modRev int64
	if len(resp.Kvs) > 0 {
		if err := json.Unmarshal(resp.Kvs[0].Value, &seq); err != nil {
			return auditSeq{}, 0, model.Unavailable(op, err)
		}
		modRev = resp.Kvs[0].ModRevision
	}
	return seq, modRev, nil
}

// logPrefix is where the entries of the log that failure names are.
func (s *Store) logPrefix(failure bool) string {
	if failure {
		return s.k.auditFailuresPrefix()
	}
	return s.k.auditLogPrefix()
}

// AddActivity implements model.Store. The entry takes the next ID of the
// counter key in the same Txn that compares it, with its index keys; the
// oldest entries of its own log beyond keep are deleted with theirs, at
// most pruneBatch per Txn, so that each call's work stays bounded (a cap
// lowered by far is reached over as many Txns as it takes).
func (s *Store) AddActivity(a model.Activity, keep int) error {
	const op = "writing audit log"
	failure := a.Failure()
	err := retry(op, func() (bool, error) {
		seq, modRev, err := s.readAuditSeq(op)
		if err != nil {
			return false, err
		}
		a.ID = seq.Last + 1
		seq.Last = a.ID
		*seq.count(failure)++
		ops := []clientv3.Op{clientv3.OpPut(auditKey(s.logPrefix(failure), a.ID), mustJSON(a))}
		ops = append(ops, s.indexOps(a)...)
		return s.pruneTxn(op, failure, keep, seq, modRev, ops)
	})
	for done := false; err == nil && !done && keep > 0; {
		done, err = s.pruneMore(op, failure, keep)
	}
	return err
}

// pruneMore runs one more pruning Txn if the log is still over keep, and
// reports whether it no longer is.
func (s *Store) pruneMore(op string, failure bool, keep int) (bool, error) {
	var over bool
	err := retry(op, func() (bool, error) {
		seq, modRev, err := s.readAuditSeq(op)
		if err != nil {
			return false, err
		}
		if over = *seq.count(failure) > uint64(keep); !over {
			return true, nil
		}
		return s.pruneTxn(op, failure, keep, seq, modRev, nil)
	})
	return !over, err
}

// pruneTxn commits ops, the deletion of up to pruneBatch entries (and
// their index keys) by which the log is over keep, and seq with its count
// lowered, if the counter is still at modRev.
func (s *Store) pruneTxn(op string, failure bool, keep int, seq auditSeq, modRev int64, ops []clientv3.Op) (bool, error) {
	count := seq.count(failure)
	if keep > 0 && *count > uint64(keep) {
		prefix := s.logPrefix(failure)
		n := min(*count-uint64(keep), pruneBatch)
		resp, err := s.get(op, prefix, clientv3.WithPrefix(), clientv3.WithLimit(int64(n)))
		if err != nil {
			return false, err
		}
		if uint64(len(resp.Kvs)) < n {
			// The count is above what the log holds (an older replica
			// wrote the counter): correct it rather than prune on it.
			*count = uint64(len(resp.Kvs))
			if len(ops) > 0 {
				*count++ // the entry ops adds
			}
			resp.Kvs = nil
		}
		for _, kv := range resp.Kvs {
			var old model.Activity
			if err := json.Unmarshal(kv.Value, &old); err != nil {
				return false, model.Unavailable(op, err)
			}
			old.ID = idOf(prefix, string(kv.Key))
			ops = append(ops, clientv3.OpDelete(string(kv.Key)))
			ops = append(ops, s.indexDeletes(old)...)
		}
		*count -= uint64(len(resp.Kvs))
	}
	ops = append(ops, clientv3.OpPut(s.k.auditSeq(), mustJSON(seq)))
	resp, err := s.txn(op, []clientv3.Cmp{unchanged(s.k.auditSeq(), modRev)}, ops, nil)
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// indexOps puts a's keys in the index of its actor and subject, marked
// with the log that holds it.
func (s *Store) indexOps(a model.Activity) []clientv3.Op {
	mark := "h"
	if a.Failure() {
		mark = "f"
	}
	var ops []clientv3.Op
	for _, u := range a.Users() {
		ops = append(ops, clientv3.OpPut(auditKey(s.k.auditUserPrefix(u), a.ID), mark))
	}
	return ops
}

func (s *Store) indexDeletes(a model.Activity) []clientv3.Op {
	var ops []clientv3.Op
	for _, u := range a.Users() {
		ops = append(ops, clientv3.OpDelete(auditKey(s.k.auditUserPrefix(u), a.ID)))
	}
	return ops
}

// idOf returns the ID of an entry's key under prefix.
func idOf(prefix, key string) uint64 {
	id, _ := strconv.ParseUint(strings.TrimPrefix(key, prefix), 10, 64)
	return id
}
