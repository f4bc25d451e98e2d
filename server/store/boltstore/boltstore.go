// Package boltstore is the embedded store of Portus: one bbolt file in the
// data directory. It is the only package that imports bbolt.
//
// Layout (all values JSON):
//
//	users             name → model.User
//	tokens            id → model.Token
//	token_hashes      HMAC(pepper, token) → id      (the hot-path index)
//	owner_tokens/NAME token name → id               (one bucket per owner)
//	activities        big-endian ID → model.Activity  (the history; its
//	                  sequence numbers both logs)
//	auth_failures     big-endian ID → model.Activity  (the failure log)
//	activity_users    len(NAME) NAME ID → 'h' or 'f'  (a user's entries, as
//	                  actor or subject, and the log that holds each)
//	audit_meta        layout, history_count, failures_count (big-endian)
//	meta              schema_version (big-endian; SchemaVersion, schema.go)
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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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

// Options configures OpenWith. The zero value is what Open uses.
type Options struct {
	// LockTimeout bounds the wait for another process's lock on the
	// file; zero means one second.
	LockTimeout time.Duration
	// Logger receives the upgrade notice; nil means slog.Default().
	Logger *slog.Logger
}

// Open is OpenWith with the default logger.
func Open(path string, lockTimeout time.Duration) (*Store, error) {
	return OpenWith(path, Options{LockTimeout: lockTimeout})
}

// OpenWith opens or creates the bbolt file at path with mode 0600. If
// another process holds the file's lock, it gives up after LockTimeout and
// returns an error wrapping ErrLocked; bbolt would otherwise wait forever.
// A file of an older SchemaVersion is copied beside itself
// (PATH.schema-N.backup, said in the log) and migrated in one
// transaction; a newer one is refused with a *NewerSchemaError.
func OpenWith(path string, o Options) (*Store, error) {
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.LockTimeout})
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
	if err := prepare(db, path, o.Logger); err != nil {
		db.Close()
		var newer *NewerSchemaError
		if errors.As(err, &newer) {
			return nil, err
		}
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
