package boltstore

import (
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// CreateToken implements model.Store.
func (s *Store) CreateToken(t model.NewToken) (*model.Token, error) {
	var replaced *model.Token
	err := s.update("creating token", func(tx *bolt.Tx) error {
		var err error
		replaced, _, err = insertToken(tx, t, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return replaced, nil
}

// CreateLoginToken implements model.Store.
func (s *Store) CreateLoginToken(t model.NewToken) ([]model.Token, error) {
	t.Replace = false
	var evicted []model.Token
	err := s.update("creating login token", func(tx *bolt.Tx) error {
		var err error
		_, evicted, err = insertToken(tx, t, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	return evicted, nil
}

// insertToken is CreateToken and CreateLoginToken inside tx: with evict,
// the owner's least recently active tokens of t.Kind make room at the
// limit instead of ErrTokenLimit.
func insertToken(tx *bolt.Tx, t model.NewToken, evict bool) (replaced *model.Token, evicted []model.Token, err error) {
	if tx.Bucket(bucketUsers).Get([]byte(t.Owner)) == nil {
		return nil, nil, model.ErrNotFound
	}
	owned, err := tx.Bucket(bucketOwnerTokens).CreateBucketIfNotExists([]byte(t.Owner))
	if err != nil {
		return nil, nil, err
	}
	if id := owned.Get([]byte(t.Name)); id != nil {
		var held model.Token
		if err := getJSON(tx.Bucket(bucketTokens), id, &held); err != nil {
			return nil, nil, err
		}
		if !t.Replace || held.Kind != t.Kind { // Replace stays within a kind
			return nil, nil, model.ErrNameTaken
		}
		old, err := deleteToken(tx, t.Owner, string(id))
		if err != nil {
			return nil, nil, err
		}
		replaced = &old
	}
	if t.Limit > 0 {
		same, err := ownedCounted(tx, owned, t)
		if err != nil {
			return nil, nil, err
		}
		if len(same) >= t.Limit && !evict {
			return nil, nil, model.ErrTokenLimit
		}
		for _, old := range model.LeastActive(same, len(same)-t.Limit+1) {
			if _, err := deleteToken(tx, t.Owner, old.ID); err != nil {
				return nil, nil, err
			}
			evicted = append(evicted, old)
		}
	}
	if err := owned.Put([]byte(t.Name), []byte(t.ID)); err != nil {
		return nil, nil, err
	}
	if err := tx.Bucket(bucketTokenHashes).Put(t.Hash, []byte(t.ID)); err != nil {
		return nil, nil, err
	}
	return replaced, evicted, putJSON(tx.Bucket(bucketTokens), []byte(t.ID), t.Token)
}

// ownedCounted reads the tokens of an owner's index that take a slot of
// t's limit (its kind, not expired). A cursor sees this transaction's own
// deletes (Bucket.Stats counts the pages on disk and would not).
func ownedCounted(tx *bolt.Tx, owned *bolt.Bucket, nt model.NewToken) ([]model.Token, error) {
	tokens := tx.Bucket(bucketTokens)
	var list []model.Token
	c := owned.Cursor()
	for k, id := c.First(); k != nil; k, id = c.Next() {
		var t model.Token
		if err := getJSON(tokens, id, &t); err != nil {
			return nil, fmt.Errorf("token index names %q: %w", id, err)
		}
		if nt.Counts(t) {
			list = append(list, t)
		}
	}
	return list, nil
}

// countKeys counts with a cursor, which sees this transaction's own
// deletes (Bucket.Stats counts the pages on disk and would not).
func countKeys(b *bolt.Bucket) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// deleteToken removes a token and its index entries inside tx.
func deleteToken(tx *bolt.Tx, owner, id string) (model.Token, error) {
	var t model.Token
	tokens := tx.Bucket(bucketTokens)
	if err := getJSON(tokens, []byte(id), &t); err != nil {
		return t, err
	}
	if t.Owner != owner {
		return t, model.ErrNotFound
	}
	if err := tokens.Delete([]byte(id)); err != nil {
		return t, err
	}
	if err := tx.Bucket(bucketTokenHashes).Delete(t.Hash); err != nil {
		return t, err
	}
	if owned := tx.Bucket(bucketOwnerTokens).Bucket([]byte(owner)); owned != nil {
		if err := owned.Delete([]byte(t.Name)); err != nil {
			return t, err
		}
	}
	return t, nil
}

// TokenByHash implements model.Store.
func (s *Store) TokenByHash(hash []byte) (model.Token, model.User, error) {
	var (
		t model.Token
		u model.User
	)
	err := s.view("looking up token", func(tx *bolt.Tx) error {
		var err error
		t, u, err = liveToken(tx, hash)
		return err
	})
	return t, u, err
}

// liveToken finds the token whose live secret has this hash, and its
// owner, in tx.
func liveToken(tx *bolt.Tx, hash []byte) (t model.Token, u model.User, err error) {
	id := tx.Bucket(bucketTokenHashes).Get(hash)
	if id == nil {
		return t, u, model.ErrNotFound
	}
	if err := getJSON(tx.Bucket(bucketTokens), id, &t); err != nil {
		return t, u, err
	}
	return t, u, getJSON(tx.Bucket(bucketUsers), []byte(t.Owner), &u)
}

// Tokens implements model.Store.
func (s *Store) Tokens(owner string) ([]model.Token, error) {
	var list []model.Token
	err := s.view("listing tokens", func(tx *bolt.Tx) error {
		owned := tx.Bucket(bucketOwnerTokens).Bucket([]byte(owner))
		if owned == nil {
			return nil
		}
		tokens := tx.Bucket(bucketTokens)
		return owned.ForEach(func(_, id []byte) error {
			var t model.Token
			if err := getJSON(tokens, id, &t); err != nil {
				return fmt.Errorf("token index of %q names %q: %w", owner, id, err)
			}
			list = append(list, t)
			return nil
		})
	})
	sort.Slice(list, func(i, j int) bool {
		if !list[i].CreatedAt.Equal(list[j].CreatedAt) {
			return list[i].CreatedAt.Before(list[j].CreatedAt)
		}
		return list[i].ID < list[j].ID
	})
	return list, err
}

// RevokeToken implements model.Store.
func (s *Store) RevokeToken(owner, id string) (model.Token, error) {
	var t model.Token
	err := s.update("revoking token", func(tx *bolt.Tx) error {
		var err error
		t, err = deleteToken(tx, owner, id)
		return err
	})
	return t, err
}

// TokenCount implements model.Store.
func (s *Store) TokenCount() (int, error) {
	var n int
	err := s.view("counting tokens", func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketTokens).Stats().KeyN
		return nil
	})
	return n, err
}

// RecordTokenUse implements model.Store.
func (s *Store) RecordTokenUse(uses map[string]model.TokenUse) error {
	if len(uses) == 0 {
		return nil
	}
	return s.update("recording token use", func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		for id, use := range uses {
			var t model.Token
			err := getJSON(tokens, []byte(id), &t)
			if errors.Is(err, model.ErrNotFound) {
				continue // revoked since it was used
			}
			if err != nil {
				return err
			}
			if !model.ApplyUse(&t, use) {
				continue
			}
			if err := putJSON(tokens, []byte(id), t); err != nil {
				return err
			}
		}
		return nil
	})
}
