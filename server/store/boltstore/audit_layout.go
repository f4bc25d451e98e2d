package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// The audit log is two logs and an index (see the package documentation):
// failures anyone can cause are kept apart from the history, so that each
// is pruned only by its own cap, and a user's page reads only their keys.
var (
	bucketAuthFailures  = []byte("auth_failures")
	bucketActivityUsers = []byte("activity_users")
	bucketAuditMeta     = []byte("audit_meta")

	metaLayout        = []byte("layout")
	metaHistoryCount  = []byte("history_count")
	metaFailuresCount = []byte("failures_count")
)

// auditLayout is the audit_meta "layout" of this version. A file without
// it holds every entry in activities and no index: migrateAudit converts
// it once, at Open.
const auditLayout = 2

// Marks in the index saying which log holds an entry.
const (
	markHistory = 'h'
	markFailure = 'f'
)

// auditLog is one of the two logs in a transaction.
type auditLog struct {
	entries  *bolt.Bucket
	meta     *bolt.Bucket
	countKey []byte
	mark     byte
}

// logOf returns the log that a belongs to.
func logOf(tx *bolt.Tx, a model.Activity) auditLog {
	meta := tx.Bucket(bucketAuditMeta)
	if a.Failure() {
		return auditLog{tx.Bucket(bucketAuthFailures), meta, metaFailuresCount, markFailure}
	}
	return auditLog{tx.Bucket(bucketActivities), meta, metaHistoryCount, markHistory}
}

// logBucket returns the bucket of the log an index value marks.
func logBucket(tx *bolt.Tx, mark []byte) *bolt.Bucket {
	if len(mark) == 1 && mark[0] == markFailure {
		return tx.Bucket(bucketAuthFailures)
	}
	return tx.Bucket(bucketActivities)
}

// count is how many entries the log holds: kept in audit_meta, because
// the logs' IDs are not dense and counting the keys costs a full walk.
func (l auditLog) count() uint64 { return btoi(l.meta.Get(l.countKey)) }

func (l auditLog) setCount(n uint64) error { return l.meta.Put(l.countKey, itob(n)) }

// indexPrefix starts the index keys of user: its length, then the name,
// so that no name's keys are a prefix of another's.
func indexPrefix(user string) []byte {
	p := binary.AppendUvarint(nil, uint64(len(user)))
	return append(p, user...)
}

func indexKey(prefix []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), id)
}

func indexAdd(idx *bolt.Bucket, a model.Activity, mark byte) error {
	for _, u := range a.Users() {
		if err := idx.Put(indexKey(indexPrefix(u), a.ID), []byte{mark}); err != nil {
			return err
		}
	}
	return nil
}

func indexDelete(idx *bolt.Bucket, a model.Activity) error {
	for _, u := range a.Users() {
		if err := idx.Delete(indexKey(indexPrefix(u), a.ID)); err != nil {
			return err
		}
	}
	return nil
}

// indexError is an index key whose entry is missing: the file was changed
// by something other than this package.
type indexError struct{ id uint64 }

func (e *indexError) Error() string {
	return fmt.Sprintf("the audit index names entry %d, which is missing", e.id)
}

// migrateAudit converts a file of the old layout — failures and history
// together in activities, no index — in the transaction of Open: it moves
// the failures to auth_failures, indexes every entry and counts both logs.
// It is the step from schema version 1 to 2 (schema.go); it does nothing
// once the layout is recorded, and being one transaction it either
// completes or leaves the old layout for the next Open.
func migrateAudit(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketAuditMeta)
	if btoi(meta.Get(metaLayout)) == auditLayout {
		return nil
	}
	hist, fails := tx.Bucket(bucketActivities), tx.Bucket(bucketAuthFailures)
	idx := tx.Bucket(bucketActivityUsers)
	var moved [][]byte
	c := hist.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var a model.Activity
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("audit entry %d: %w", btoi(k), err)
		}
		a.ID = btoi(k)
		mark := byte(markHistory)
		if a.Failure() {
			mark = markFailure
			if err := fails.Put(k, v); err != nil {
				return err
			}
			moved = append(moved, append([]byte(nil), k...))
		}
		if err := indexAdd(idx, a, mark); err != nil {
			return err
		}
	}
	for _, k := range moved {
		if err := hist.Delete(k); err != nil {
			return err
		}
	}
	for _, l := range []auditLog{logOf(tx, model.Activity{}), logOf(tx, model.Activity{Action: model.ActionAuthFailure})} {
		if err := l.setCount(uint64(countKeys(l.entries))); err != nil {
			return err
		}
	}
	return meta.Put(metaLayout, itob(auditLayout))
}
