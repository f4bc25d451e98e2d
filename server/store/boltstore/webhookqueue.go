package boltstore

import (
	"encoding/json"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// bucketWebhooks holds the webhook queue: big-endian ID → QueuedWebhook.
// It is made by the first write, so files of schema version 2 without it
// need no migration.
var bucketWebhooks = []byte("webhook_queue")

// EnqueueWebhooks implements model.Store.
func (s *Store) EnqueueWebhooks(items []model.QueuedWebhook) error {
	return s.update("queueing webhooks", func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketWebhooks)
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.ID, err = b.NextSequence(); err != nil {
				return err
			}
			if err := putJSON(b, itob(it.ID), it); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClaimWebhooks implements model.Store: one pass over the queue in order.
func (s *Store) ClaimWebhooks(owner string, now time.Time, lease time.Duration, limit int, busy model.WebhookBusy) ([]model.QueuedWebhook, error) {
	var claimed []model.QueuedWebhook
	err := s.update("claiming webhooks", func(tx *bolt.Tx) error {
		claimed = nil
		b := tx.Bucket(bucketWebhooks)
		if b == nil {
			return nil
		}
		heads := model.NewWebhookHeads(busy)
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(claimed) < limit; k, v = c.Next() {
			var it model.QueuedWebhook
			if err := json.Unmarshal(v, &it); err != nil {
				return err
			}
			if !heads.Claimable(it, owner, now) {
				continue
			}
			it.ClaimedBy, it.ClaimedUntil = owner, now.Add(lease)
			if err := putJSON(b, k, it); err != nil {
				return err
			}
			claimed = append(claimed, it)
		}
		return nil
	})
	return claimed, err
}

// AckWebhook implements model.Store.
func (s *Store) AckWebhook(id uint64, owner string) error {
	return s.update("acknowledging webhook", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWebhooks)
		if b == nil {
			return nil
		}
		var it model.QueuedWebhook
		if err := getJSON(b, itob(id), &it); err != nil {
			if errors.Is(err, model.ErrNotFound) {
				return nil
			}
			return err
		}
		if it.ClaimedBy != owner {
			return model.ErrNotFound
		}
		return b.Delete(itob(id))
	})
}

// RescheduleWebhook implements model.Store.
func (s *Store) RescheduleWebhook(id uint64, owner string, next time.Time) error {
	return s.update("rescheduling webhook", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWebhooks)
		if b == nil {
			return model.ErrNotFound
		}
		var it model.QueuedWebhook
		if err := getJSON(b, itob(id), &it); err != nil {
			return err
		}
		if it.ClaimedBy != owner {
			return model.ErrNotFound
		}
		it.Attempts++
		it.NextTry, it.ClaimedBy, it.ClaimedUntil = next, "", time.Time{}
		return putJSON(b, itob(id), it)
	})
}

// DropWebhooks implements model.Store.
func (s *Store) DropWebhooks(before time.Time) (map[string]int, error) {
	dropped := map[string]int{}
	err := s.update("dropping old webhooks", func(tx *bolt.Tx) error {
		clear(dropped)
		b := tx.Bucket(bucketWebhooks)
		if b == nil {
			return nil
		}
		var old [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var it model.QueuedWebhook
			if err := json.Unmarshal(v, &it); err != nil {
				return err
			}
			if it.EnqueuedAt.Before(before) {
				old = append(old, append([]byte(nil), k...))
				dropped[it.Hook]++
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return dropped, err
}

// WebhookQueueDepth implements model.Store.
func (s *Store) WebhookQueueDepth() (map[string]int, error) {
	depth := map[string]int{}
	err := s.view("counting webhooks", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWebhooks)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var it struct {
				Hook string `json:"hook"`
			}
			if err := json.Unmarshal(v, &it); err != nil {
				return err
			}
			depth[it.Hook]++
			return nil
		})
	})
	return depth, err
}
