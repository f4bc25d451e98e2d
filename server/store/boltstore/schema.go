package boltstore

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// The schema version lives in the meta bucket. Files written before it
// was recorded are recognised by their audit layout (schemaOf).
var (
	bucketMeta = []byte("meta")
	metaSchema = []byte("schema_version")
)

// SchemaVersion is the layout of the file this code reads and writes:
//
//	1  the first releases: failures and history together in activities,
//	   no per-user audit index
//	2  the audit log as two logs indexed per user (audit_meta layout 2)
//
// A change of layout adds a version and its step in migrations.
const SchemaVersion = 2

// migrations[v] turns a file of version v into v+1, inside Open's one
// transaction: a migration either completes or leaves the file as it was.
var migrations = map[uint64]func(*bolt.Tx) error{
	1: migrateAudit,
}

// NewerSchemaError is Open's error for a file that a newer Portus wrote:
// this code would misread it, so it does not touch it.
type NewerSchemaError struct {
	Path         string
	Found, Known uint64
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("the database %s has schema version %d, but this portus knows versions up to %d: "+
		"it was written by a newer Portus release. Run that release or a newer one; to go back to this one, "+
		"restore the backup that the upgrade wrote beside the file (%s.schema-%d.backup)",
		e.Path, e.Found, e.Known, filepath.Base(e.Path), e.Known)
}

// schemaOf reads the file's version; fresh is a file with no buckets yet.
func schemaOf(tx *bolt.Tx) (version uint64, fresh bool) {
	if meta := tx.Bucket(bucketMeta); meta != nil && meta.Get(metaSchema) != nil {
		return btoi(meta.Get(metaSchema)), false
	}
	if k, _ := tx.Cursor().First(); k == nil {
		return 0, true
	}
	if audit := tx.Bucket(bucketAuditMeta); audit != nil && btoi(audit.Get(metaLayout)) == auditLayout {
		return 2, false
	}
	return 1, false
}

// prepare brings the file at path to SchemaVersion: it refuses a newer
// one, backs up an older one beside it before migrating it, and creates
// the buckets of a new one.
func prepare(db *bolt.DB, path string, log *slog.Logger) error {
	var (
		found uint64
		fresh bool
	)
	if err := db.View(func(tx *bolt.Tx) error { found, fresh = schemaOf(tx); return nil }); err != nil {
		return err
	}
	if found > SchemaVersion {
		return &NewerSchemaError{Path: path, Found: found, Known: SchemaVersion}
	}
	if fresh {
		found = SchemaVersion
	}
	if found < SchemaVersion {
		backup, err := backupFile(db, path, found)
		if err != nil {
			return fmt.Errorf("backing up the database before upgrading it from schema version %d: %w", found, err)
		}
		log.Warn("upgrading the database: a copy of it as it was is kept beside it",
			"path", path, "from_schema", found, "to_schema", SchemaVersion, "backup", backup)
	}
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketUsers, bucketTokens, bucketTokenHashes, bucketOwnerTokens, bucketActivities,
			bucketAuthFailures, bucketActivityUsers, bucketAuditMeta, bucketSessions, bucketUserSess, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		for v := found; v < SchemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrating from schema version %d to %d: %w", v, v+1, err)
			}
		}
		if fresh {
			// A new file has the audit layout of this version already.
			if err := tx.Bucket(bucketAuditMeta).Put(metaLayout, itob(auditLayout)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaSchema, itob(SchemaVersion))
	})
}

// backupFile writes a consistent copy of the file, as it is, to
// PATH.schema-VERSION.backup (mode 0600, replaced by a rename, so that a
// backup cut short never looks whole) and returns that path.
func backupFile(db *bolt.DB, path string, version uint64) (string, error) {
	backup := fmt.Sprintf("%s.schema-%d.backup", path, version)
	tmp := backup + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	err = db.View(func(tx *bolt.Tx) error { _, err := tx.WriteTo(f); return err })
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, backup)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return backup, nil
}
