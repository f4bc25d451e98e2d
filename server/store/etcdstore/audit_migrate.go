package etcdstore

import (
	"encoding/json"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// migrateBatch bounds the entries one migration Txn moves: each costs up
// to four operations, and etcd refuses a Txn of more than 128.
const migrateBatch = 30

// migrateAudit converts the old audit layout — failures and history
// together under audit/log/, no index — at Open: it moves the failures to
// audit/failures/, indexes every entry, counts both logs and records the
// layout in the counter. Every step is idempotent (a key moved twice, an
// index key put twice, counts taken afresh), so a migration cut short, or
// run by two replicas at once, is completed by the next Open.
func (s *Store) migrateAudit() error {
	const op = "migrating the audit log"
	for range maxAttempts {
		seq, modRev, err := s.readAuditSeq(op)
		if err != nil || seq.Layout == auditLayout {
			return err
		}
		n, err := s.migrateEntries(op)
		if err != nil {
			return err
		}
		counts, err := s.read(op, clientv3.OpGet(s.k.auditLogPrefix(), clientv3.WithPrefix(), clientv3.WithCountOnly()),
			clientv3.OpGet(s.k.auditFailuresPrefix(), clientv3.WithPrefix(), clientv3.WithCountOnly()))
		if err != nil {
			return err
		}
		seq.Layout = auditLayout
		seq.History = uint64(counts.Responses[0].GetResponseRange().Count)
		seq.Failures = uint64(counts.Responses[1].GetResponseRange().Count)
		resp, err := s.txn(op, []clientv3.Cmp{unchanged(s.k.auditSeq(), modRev)},
			[]clientv3.Op{clientv3.OpPut(s.k.auditSeq(), mustJSON(seq))}, nil)
		if err != nil || resp.Succeeded {
			if n > 0 && err == nil {
				s.log.Info("audit log migrated: failures apart from the history, indexed per user", "entries", n)
			}
			return err
		}
		// An entry was written meanwhile (by a replica of the old layout):
		// go over the log again.
	}
	return model.Unavailable(op, errContention)
}

// migrateEntries moves the failures under audit/log/ to audit/failures/
// and indexes every entry, migrateBatch entries per Txn. It returns how
// many entries it went over.
func (s *Store) migrateEntries(op string) (int, error) {
	hist := s.k.auditLogPrefix()
	end := clientv3.GetPrefixRangeEnd(hist)
	n := 0
	for key := hist; ; {
		resp, err := s.get(op, key, clientv3.WithRange(end), clientv3.WithLimit(migrateBatch))
		if err != nil {
			return n, err
		}
		n += len(resp.Kvs)
		var ops []clientv3.Op
		for _, kv := range resp.Kvs {
			var a model.Activity
			if err := json.Unmarshal(kv.Value, &a); err != nil {
				return n, model.Unavailable(op, fmt.Errorf("audit entry %s: %w", kv.Key, err))
			}
			a.ID = idOf(hist, string(kv.Key))
			if a.Failure() {
				ops = append(ops, clientv3.OpPut(auditKey(s.k.auditFailuresPrefix(), a.ID), string(kv.Value)),
					clientv3.OpDelete(string(kv.Key)))
			}
			ops = append(ops, s.indexOps(a)...)
		}
		if len(ops) > 0 {
			if _, err := s.txn(op, nil, ops, nil); err != nil {
				return n, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return n, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
