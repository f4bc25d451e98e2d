// Package boltstore is the embedded store of Portus: one bbolt file in the
// data directory. It is the only package that imports bbolt.
//
// Layout (all values JSON):
//
//	users             name → model.User
//	tokens            id → model.Token
//	token_hashes      HMAC(pepper, token) → id      (the hot-path index)
//	owner_tokens/NAME token name → id               (one bucket per owner)
//	activities        big-endian sequence → model.Activity
//	sessions          SHA-256(cookie value) → model.Session
//	user_sessions/NAME session id → empty          (one bucket per user)
//
// The shared secrets (store.SharedSecret) are not in the database but in
// files of the same names beside it, mode 0600 — the data directory's
// "pepper" and "registry-signing.*" files of every installation — so that
// a copy of the database alone checks no token.
//
// Every model.Store method is a single bbolt transaction, so the token limit
// and unique names hold even with many concurrent writers.
package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/portusproject/portus/server/model"
)

var (
	bucketUsers       = []byte("users")
	bucketTokens      = []byte("tokens")
	bucketTokenHashes = []byte("token_hashes")
	bucketOwnerTokens = []byte("owner_tokens")
	bucketActivities  = []byte("activities")
	bucketSessions    = []byte("sessions")
	bucketUserSess    = []byte("user_sessions")
)

// ErrLocked is returned by Open when another process holds the file.
var ErrLocked = errors.New("database is in use by another process")

// Store is a model.Store on a bbolt file.
type Store struct {
	db *bolt.DB
	// dir holds the database file and the shared secrets.
	dir string
}

var _ model.Store = (*Store)(nil)

// Open opens or creates the bbolt file at path with mode 0600. If another
// process holds the file's lock, Open gives up after lockTimeout and returns
// an error wrapping ErrLocked; bbolt would otherwise wait forever.
func Open(path string, lockTimeout time.Duration) (*Store, error) {
	if lockTimeout <= 0 {
		lockTimeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("opening %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	// bbolt creates the file with the mode given, but an existing file keeps
	// whatever it had: tighten it, the file holds password hashes.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("setting the mode of %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketUsers, bucketTokens, bucketTokenHashes, bucketOwnerTokens, bucketActivities, bucketSessions, bucketUserSess} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing %s: %w", path, err)
	}
	return &Store{db: db, dir: filepath.Dir(path)}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) update(op string, fn func(tx *bolt.Tx) error) error {
	err := s.db.Update(fn)
	return classify(op, err)
}

func (s *Store) view(op string, fn func(tx *bolt.Tx) error) error {
	err := s.db.View(fn)
	return classify(op, err)
}

// classify passes domain errors through and marks everything else (I/O
// errors, a closed database) as the store being unavailable.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, domain := range []error{model.ErrNotFound, model.ErrUserExists, model.ErrNameTaken, model.ErrTokenLimit} {
		if errors.Is(err, domain) {
			return err
		}
	}
	var ab *abortError
	if errors.As(err, &ab) {
		return ab.err
	}
	return model.Unavailable(op, err)
}

// abortError carries an error from a caller's change function through the
// transaction unchanged.
type abortError struct{ err error }

func (e *abortError) Error() string { return e.err.Error() }

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return model.ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// CreateUser implements model.Store.
func (s *Store) CreateUser(u model.User, firstIsAdmin bool) (model.User, error) {
	err := s.update("creating user", func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if users.Get([]byte(u.Name)) != nil {
			return model.ErrUserExists
		}
		if firstIsAdmin {
			if k, _ := users.Cursor().First(); k == nil {
				u.Admin = true
			}
		}
		return putJSON(users, []byte(u.Name), u)
	})
	if err != nil {
		return model.User{}, err
	}
	return u, nil
}

// User implements model.Store.
func (s *Store) User(name string) (model.User, error) {
	var u model.User
	err := s.view("reading user", func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketUsers), []byte(name), &u)
	})
	return u, err
}

// Users implements model.Store.
func (s *Store) Users() ([]model.User, error) {
	var users []model.User
	err := s.view("listing users", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(_, v []byte) error {
			var u model.User
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			users = append(users, u)
			return nil
		})
	})
	return users, err
}

// UpdateUser implements model.Store.
func (s *Store) UpdateUser(name string, change func(*model.User) error) (model.User, error) {
	var u model.User
	err := s.update("updating user", func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if err := getJSON(users, []byte(name), &u); err != nil {
			return err
		}
		if err := change(&u); err != nil {
			return &abortError{err}
		}
		u.Name = name
		return putJSON(users, []byte(name), u)
	})
	if err != nil {
		return model.User{}, err
	}
	return u, nil
}

// CreateToken implements model.Store.
func (s *Store) CreateToken(t model.NewToken) (*model.Token, error) {
	var replaced *model.Token
	err := s.update("creating token", func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(t.Owner)) == nil {
			return model.ErrNotFound
		}
		owned, err := tx.Bucket(bucketOwnerTokens).CreateBucketIfNotExists([]byte(t.Owner))
		if err != nil {
			return err
		}
		if id := owned.Get([]byte(t.Name)); id != nil {
			if !t.Replace {
				return model.ErrNameTaken
			}
			old, err := deleteToken(tx, t.Owner, string(id))
			if err != nil {
				return err
			}
			replaced = &old
		}
		if t.Limit > 0 && countKeys(owned) >= t.Limit {
			return model.ErrTokenLimit
		}
		if err := owned.Put([]byte(t.Name), []byte(t.ID)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTokenHashes).Put(t.Hash, []byte(t.ID)); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketTokens), []byte(t.ID), t.Token)
	})
	if err != nil {
		return nil, err
	}
	return replaced, nil
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
		id := tx.Bucket(bucketTokenHashes).Get(hash)
		if id == nil {
			return model.ErrNotFound
		}
		if err := getJSON(tx.Bucket(bucketTokens), id, &t); err != nil {
			return err
		}
		return getJSON(tx.Bucket(bucketUsers), []byte(t.Owner), &u)
	})
	return t, u, err
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
func (s *Store) RecordTokenUse(uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	return s.update("recording token use", func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		for id, at := range uses {
			var t model.Token
			err := getJSON(tokens, []byte(id), &t)
			if errors.Is(err, model.ErrNotFound) {
				continue // revoked since it was used
			}
			if err != nil {
				return err
			}
			if t.LastUsedAt != nil && !at.After(*t.LastUsedAt) {
				continue
			}
			at := at
			t.LastUsedAt = &at
			if err := putJSON(tokens, []byte(id), t); err != nil {
				return err
			}
		}
		return nil
	})
}

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

// Backup implements model.Store with bbolt's consistent hot copy.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.view("backing up", func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
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
