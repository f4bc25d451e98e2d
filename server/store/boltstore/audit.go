package boltstore

import (
	"encoding/binary"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// AddActivity implements model.Store.
func (s *Store) AddActivity(a model.Activity, keep int) error {
	return s.update("writing audit log", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActivities)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		a.ID = seq
		if err := putJSON(b, itob(seq), a); err != nil {
			return err
		}
		if keep <= 0 {
			return nil
		}
		// Entries are only ever removed from the oldest end, so the count is
		// the distance between the newest and the oldest key. After a
		// Delete, bbolt's Next may skip a key: seek the first one again.
		c := b.Cursor()
		for k, _ := c.First(); k != nil && seq-btoi(k)+1 > uint64(keep); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Activities implements model.Store.
func (s *Store) Activities(q model.ActivityQuery) ([]model.Activity, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	var page []model.Activity
	err := s.view("reading audit log", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketActivities).Cursor()
		var k, v []byte
		if q.Before > 0 {
			k, v = c.Seek(itob(q.Before))
			if k != nil {
				k, v = c.Prev()
			} else {
				k, v = c.Last()
			}
		} else {
			k, v = c.Last()
		}
		for ; k != nil && len(page) < limit; k, v = c.Prev() {
			var a model.Activity
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			if q.User != "" && a.Actor != q.User && a.Subject != q.User {
				continue
			}
			page = append(page, a)
		}
		return nil
	})
	return page, err
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
