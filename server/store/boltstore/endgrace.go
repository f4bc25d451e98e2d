package boltstore

import (
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// EndRetiredGrace implements model.Store: the record keeps its place in
// retired_expiry (KeepUntil does not change).
func (s *Store) EndRetiredGrace(hash []byte, at time.Time) error {
	return s.update("ending a retired secret's grace", func(tx *bolt.Tx) error {
		retired := tx.Bucket(bucketRetired)
		if retired == nil {
			return model.ErrNotFound
		}
		var rec model.RetiredSecret
		if err := getJSON(retired, hash, &rec); err != nil {
			return err
		}
		if !rec.GraceUntil.After(at) {
			return nil
		}
		rec.GraceUntil = at
		return putJSON(retired, hash, rec)
	})
}
