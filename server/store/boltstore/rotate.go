package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// Retired secrets (model.Rotation) live in two buckets, made at the first
// rotation:
//
//	retired_secrets  HMAC(pepper, old token) → model.RetiredSecret
//	retired_expiry   big-endian KeepUntil (Unix ns) + hash → empty: the
//	                 order in which records are pruned, each rotation
//	                 dropping those whose KeepUntil has passed
var (
	bucketRetired       = []byte("retired_secrets")
	bucketRetiredExpiry = []byte("retired_expiry")
)

// RotateToken implements model.Store.
func (s *Store) RotateToken(r model.Rotation) (model.Token, error) {
	var t model.Token
	err := s.update("rotating token", func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		if err := getJSON(tokens, []byte(r.ID), &t); err != nil {
			return err
		}
		if t.Owner != r.Owner {
			return model.ErrNotFound
		}
		if !bytes.Equal(t.Hash, r.From) {
			return &abortError{model.ErrRotated}
		}
		hashes := tx.Bucket(bucketTokenHashes)
		if err := hashes.Delete(r.From); err != nil {
			return err
		}
		if err := hashes.Put(r.Hash, []byte(r.ID)); err != nil {
			return err
		}
		if err := retire(tx, r.From, r.Retired(t.Name), r.At); err != nil {
			return err
		}
		t.Hash, t.ExpiresAt, t.RotatedAt = r.Hash, r.ExpiresAt, r.At
		return putJSON(tokens, []byte(r.ID), t)
	})
	return t, err
}

// retire records hash as rec and prunes the records kept until before now.
func retire(tx *bolt.Tx, hash []byte, rec model.RetiredSecret, now time.Time) error {
	retired, err := tx.CreateBucketIfNotExists(bucketRetired)
	if err != nil {
		return err
	}
	expiry, err := tx.CreateBucketIfNotExists(bucketRetiredExpiry)
	if err != nil {
		return err
	}
	var stale [][]byte
	c := expiry.Cursor()
	for k, _ := c.First(); k != nil && len(k) > 8 && int64(binary.BigEndian.Uint64(k)) < now.UnixNano(); k, _ = c.Next() {
		stale = append(stale, bytes.Clone(k))
	}
	for _, k := range stale {
		if err := errors.Join(expiry.Delete(k), retired.Delete(k[8:])); err != nil {
			return err
		}
	}
	key := binary.BigEndian.AppendUint64(nil, uint64(rec.KeepUntil.UnixNano()))
	if err := expiry.Put(append(key, hash...), nil); err != nil {
		return err
	}
	return putJSON(retired, hash, rec)
}

// SecretByHash implements model.Store. A live hash and a retired one are looked up in one read transaction:
// an unknown token, the common failure at /v2/token, costs one.
func (s *Store) SecretByHash(hash []byte, now time.Time) (model.Token, model.User, error) {
	var (
		t model.Token
		u model.User
	)
	err := s.view("looking up token", func(tx *bolt.Tx) error {
		var lerr error
		if t, u, lerr = liveToken(tx, hash); !errors.Is(lerr, model.ErrNotFound) {
			return lerr
		}
		retired := tx.Bucket(bucketRetired)
		if retired == nil {
			return model.ErrNotFound
		}
		var rec model.RetiredSecret
		if err := getJSON(retired, hash, &rec); err != nil {
			return err
		}
		var cur model.Token
		found := getJSON(tx.Bucket(bucketTokens), []byte(rec.TokenID), &cur) == nil
		var rerr error
		if t, rerr = rec.Resolve(cur, found, hash, now); rerr != nil {
			return &abortError{rerr}
		}
		return getJSON(tx.Bucket(bucketUsers), []byte(t.Owner), &u)
	})
	if err != nil {
		return model.Token{}, model.User{}, err
	}
	return t, u, nil
}
