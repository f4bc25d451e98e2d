package boltstore

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// The expiry sweep's reads and writes (model/expiry.go): a scan of the
// tokens bucket, which a periodic sweep can afford and a request never
// pays for.

// expiringBy lists the tokens of tx that expire under rules by at.
func expiringBy(tx *bolt.Tx, at time.Time, rules model.ExpiryRules) ([]model.Token, error) {
	var list []model.Token
	err := tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
		var t model.Token
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("token %q: %w", k, err)
		}
		if exp := t.ExpiryTime(rules.For(t)); exp != nil && !exp.After(at) {
			list = append(list, t)
		}
		return nil
	})
	return list, err
}

// TokensExpiringBy implements model.Store.
func (s *Store) TokensExpiringBy(at time.Time, rules model.ExpiryRules) ([]model.Token, error) {
	var list []model.Token
	err := s.view("listing expiring tokens", func(tx *bolt.Tx) error {
		var err error
		list, err = expiringBy(tx, at, rules)
		return err
	})
	return list, err
}

// DeleteExpiredTokens implements model.Store.
func (s *Store) DeleteExpiredTokens(before time.Time, rules model.ExpiryRules) ([]model.Token, error) {
	var deleted []model.Token
	err := s.update("deleting expired tokens", func(tx *bolt.Tx) error {
		deleted = nil
		list, err := expiringBy(tx, before, rules)
		if err != nil {
			return err
		}
		for _, t := range list {
			if _, err := deleteToken(tx, t.Owner, t.ID); err != nil {
				return err
			}
			deleted = append(deleted, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return deleted, nil
}

// MarkTokenNotified implements model.Store.
func (s *Store) MarkTokenNotified(id, event string, expiry time.Time) (bool, error) {
	set := false
	err := s.update("marking token notified", func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		var t model.Token
		if err := getJSON(tokens, []byte(id), &t); err != nil {
			return err
		}
		if !model.MarkNotified(&t, event, expiry) {
			return nil
		}
		set = true
		return putJSON(tokens, []byte(id), t)
	})
	return set, err
}
