package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// AddActivity implements model.Store: a goes to its own log, which alone is
// pruned, and into the index of its actor and subject.
func (s *Store) AddActivity(a model.Activity, keep int) error {
	return s.update("writing audit log", func(tx *bolt.Tx) error {
		// The history bucket's sequence numbers both logs, so that IDs
		// stay one increasing order across them.
		seq, err := tx.Bucket(bucketActivities).NextSequence()
		if err != nil {
			return err
		}
		a.ID = seq
		l := logOf(tx, a)
		if err := putJSON(l.entries, itob(seq), a); err != nil {
			return err
		}
		idx := tx.Bucket(bucketActivityUsers)
		if err := indexAdd(idx, a, l.mark); err != nil {
			return err
		}
		n := l.count() + 1
		if keep > 0 {
			if n, err = l.prune(idx, n, uint64(keep)); err != nil {
				return err
			}
		}
		return l.setCount(n)
	})
}

// prune deletes the oldest entries of l, and their index keys, until at
// most keep of its n remain, and returns how many remain.
func (l auditLog) prune(idx *bolt.Bucket, n, keep uint64) (uint64, error) {
	// After a Delete, bbolt's Next may skip a key: seek the first again.
	c := l.entries.Cursor()
	for k, v := c.First(); k != nil && n > keep; k, v = c.First() {
		var old model.Activity
		if err := json.Unmarshal(v, &old); err != nil {
			return n, err
		}
		old.ID = btoi(k)
		if err := indexDelete(idx, old); err != nil {
			return n, err
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n--
	}
	return n, nil
}

// Activities implements model.Store.
func (s *Store) Activities(q model.ActivityQuery) ([]model.Activity, error) {
	before, limit := q.Range()
	var page []model.Activity
	err := s.view("reading audit log", func(tx *bolt.Tx) error {
		var err error
		if q.User != "" {
			page, err = userPage(tx, q.User, before, limit)
		} else {
			page, err = mergedPage(tx, before, limit)
		}
		return err
	})
	return page, err
}

// mergedPage reads both logs backwards from before, taking the higher ID
// of the two at each step.
func mergedPage(tx *bolt.Tx, before uint64, limit int) ([]model.Activity, error) {
	hc := tx.Bucket(bucketActivities).Cursor()
	fc := tx.Bucket(bucketAuthFailures).Cursor()
	hk, hv := lastBefore(hc, itob(before))
	fk, fv := lastBefore(fc, itob(before))
	var page []model.Activity
	for len(page) < limit && (hk != nil || fk != nil) {
		v := hv
		if hk == nil || (fk != nil && bytes.Compare(fk, hk) > 0) {
			v = fv
			fk, fv = fc.Prev()
		} else {
			hk, hv = hc.Prev()
		}
		var a model.Activity
		if err := json.Unmarshal(v, &a); err != nil {
			return nil, err
		}
		page = append(page, a)
	}
	return page, nil
}

// userPage reads user's index backwards from before and each entry from
// the log the index names: the work is the page's, not the log's.
func userPage(tx *bolt.Tx, user string, before uint64, limit int) ([]model.Activity, error) {
	prefix := indexPrefix(user)
	c := tx.Bucket(bucketActivityUsers).Cursor()
	var page []model.Activity
	for k, v := lastBefore(c, indexKey(prefix, before)); k != nil && len(page) < limit; k, v = c.Prev() {
		if !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
			break
		}
		id := k[len(prefix):]
		data := logBucket(tx, v).Get(id)
		if data == nil {
			return nil, &indexError{id: btoi(id)}
		}
		var a model.Activity
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, err
		}
		page = append(page, a)
	}
	return page, nil
}

// lastBefore positions c on its last key below key and returns it.
func lastBefore(c *bolt.Cursor, key []byte) ([]byte, []byte) {
	if k, _ := c.Seek(key); k != nil {
		return c.Prev()
	}
	return c.Last()
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func btoi(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
