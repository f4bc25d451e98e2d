package boltstore

import (
	"encoding/json"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// CreateSession implements model.Store.
func (s *Store) CreateSession(sess model.Session) error {
	return s.update("creating session", func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(sess.User)) == nil {
			return model.ErrNotFound
		}
		mine, err := tx.Bucket(bucketUserSess).CreateBucketIfNotExists([]byte(sess.User))
		if err != nil {
			return err
		}
		if err := mine.Put(sess.ID, []byte{}); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketSessions), sess.ID, sess)
	})
}

// SessionByID implements model.Store.
func (s *Store) SessionByID(id []byte) (model.Session, model.User, error) {
	var (
		sess model.Session
		u    model.User
	)
	err := s.view("looking up session", func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketSessions), id, &sess); err != nil {
			return err
		}
		return getJSON(tx.Bucket(bucketUsers), []byte(sess.User), &u)
	})
	return sess, u, err
}

// TouchSession implements model.Store.
func (s *Store) TouchSession(id []byte, at time.Time) error {
	return s.update("touching session", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var sess model.Session
		if err := getJSON(b, id, &sess); err != nil {
			return err
		}
		if !at.After(sess.LastSeen) {
			return nil
		}
		sess.LastSeen = at
		return putJSON(b, id, sess)
	})
}

// DeleteSession implements model.Store.
func (s *Store) DeleteSession(id []byte) error {
	return s.update("deleting session", func(tx *bolt.Tx) error {
		return deleteSession(tx, id)
	})
}

// deleteSession removes a session and its index entry inside tx.
func deleteSession(tx *bolt.Tx, id []byte) error {
	b := tx.Bucket(bucketSessions)
	var sess model.Session
	err := getJSON(b, id, &sess)
	if errors.Is(err, model.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if mine := tx.Bucket(bucketUserSess).Bucket([]byte(sess.User)); mine != nil {
		if err := mine.Delete(id); err != nil {
			return err
		}
	}
	return b.Delete(id)
}

// DeleteUserSessions implements model.Store.
func (s *Store) DeleteUserSessions(user string) (int, error) {
	n := 0
	err := s.update("deleting sessions", func(tx *bolt.Tx) error {
		n = 0
		index := tx.Bucket(bucketUserSess)
		mine := index.Bucket([]byte(user))
		if mine == nil {
			return nil
		}
		sessions := tx.Bucket(bucketSessions)
		c := mine.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if sessions.Get(k) != nil {
				if err := sessions.Delete(k); err != nil {
					return err
				}
				n++
			}
		}
		return index.DeleteBucket([]byte(user))
	})
	return n, err
}

// PruneSessions implements model.Store. It reads every session: call it
// now and then, not per request.
func (s *Store) PruneSessions(createdBefore, seenBefore time.Time) (int, error) {
	n := 0
	err := s.update("pruning sessions", func(tx *bolt.Tx) error {
		n = 0
		var stale [][]byte
		err := tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			var sess model.Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return err
			}
			if sess.CreatedAt.Before(createdBefore) || sess.LastSeen.Before(seenBefore) {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range stale {
			if err := deleteSession(tx, id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
