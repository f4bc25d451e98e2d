package boltstore

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// schemaFixture is a database written by this code at SchemaVersion 2, kept so
// that every later version is tested on opening it. Rewrite it only when
// the fixture itself changes, never for a new schema version (add a
// fixture of the new version then):
//
//	PORTUS_WRITE_FIXTURE=1 go test -run TestWriteFixture ./server/store/boltstore
const schemaFixture = "testdata/portus-schema-2.db"

var fixtureTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestWriteFixture(t *testing.T) {
	if os.Getenv("PORTUS_WRITE_FIXTURE") == "" {
		t.Skip("writes " + schemaFixture + " when PORTUS_WRITE_FIXTURE is set")
	}
	os.Remove(schemaFixture)
	s, err := Open(schemaFixture, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateUser(model.User{Name: "alice", PasswordHash: "$argon2id$schemaFixture", CreatedAt: fixtureTime}, true); err != nil {
		t.Fatal(err)
	}
	tok := model.Token{ID: "tok1", Owner: "alice", Name: "laptop", Hash: []byte("schemaFixture-hash"), Scope: "repository:alice/*:pull,push",
		CreatedAt: fixtureTime, CreatedVia: "web"}
	if _, err := s.CreateToken(model.NewToken{Token: tok, Limit: 5}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []model.Activity{{Time: fixtureTime, Action: "token.create", Actor: "alice", TokenName: "laptop"},
		{Time: fixtureTime, Action: model.ActionAuthFailure, Actor: "mallory"}} {
		if err := s.AddActivity(a, 100); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenFixture opens the schemaFixture as an upgrade from that release
// would: everything it holds is read back and nothing is migrated.
func TestOpenFixture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portus.db")
	data, err := os.ReadFile(schemaFixture)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, data, 0o600)
	var log bytes.Buffer
	s, err := OpenWith(path, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u, err := s.User("alice"); err != nil || !u.Admin || !u.CreatedAt.Equal(fixtureTime) {
		t.Errorf("alice = %+v, %v", u, err)
	}
	if tok, u, err := s.TokenByHash([]byte("schemaFixture-hash")); err != nil || tok.Name != "laptop" || u.Name != "alice" {
		t.Errorf("token by hash = %+v, %+v, %v", tok, u, err)
	}
	if all, err := s.Activities(model.ActivityQuery{}); err != nil || len(all) != 2 {
		t.Errorf("activities = %+v, %v; want the schemaFixture's two", all, err)
	}
	if page, err := s.Activities(model.ActivityQuery{User: "alice"}); err != nil || len(page) != 1 {
		t.Errorf("alice's page = %+v, %v; want one entry", page, err)
	}
	if log.Len() > 0 || backups(t, path) != nil {
		t.Errorf("opening a current file migrated it: log %q, backups %v", log.String(), backups(t, path))
	}
}

func backups(t *testing.T, path string) []string {
	m, err := filepath.Glob(path + ".schema-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func schemaIn(t *testing.T, path string) (uint64, bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v uint64
	var recorded bool
	db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil && meta.Get(metaSchema) != nil {
			v, recorded = btoi(meta.Get(metaSchema)), true
		}
		return nil
	})
	return v, recorded
}

// A file of schema version 1 is copied, as it was, before the migration,
// and the log says where.
func TestUpgradeBacksUpFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portus.db")
	writeOldAuditLayout(t, path, []model.Activity{{Time: fixtureTime, Action: "token.create", Actor: "alice"}})
	var log bytes.Buffer
	s, err := OpenWith(path, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	backup := path + ".schema-1.backup"
	if got := backups(t, path); len(got) != 1 || got[0] != backup {
		t.Fatalf("backups = %v, want %s", got, backup)
	}
	for _, want := range []string{"upgrading the database", "from_schema=1", "to_schema=2", "backup=" + backup} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if v, ok := schemaIn(t, path); !ok || v != SchemaVersion {
		t.Errorf("schema after the upgrade: %d (recorded %v), want %d", v, ok, SchemaVersion)
	}
	// The backup is the old file: no version, no audit index.
	if _, ok := schemaIn(t, backup); ok {
		t.Error("the backup was taken after the migration")
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup: %v, %v; want mode 0600", fi, err)
	}
	// Opened again: nothing more to do.
	log.Reset()
	s, err = OpenWith(path, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if log.Len() > 0 {
		t.Errorf("a second Open migrated again: %s", log.String())
	}
}

// A file that a newer release wrote is refused, and left as it was.
func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portus.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaSchema, itob(SchemaVersion+1)) })
	s.Close()
	before, _ := os.ReadFile(path)
	_, err = Open(path, time.Second)
	var newer *NewerSchemaError
	if !errors.As(err, &newer) || newer.Found != SchemaVersion+1 {
		t.Fatalf("Open of a newer file: %v, want a NewerSchemaError", err)
	}
	for _, want := range []string{path, "schema version 3", "up to 2", "newer Portus release", "portus.db.schema-2.backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) || backups(t, path) != nil {
		t.Error("the newer file was changed or backed up")
	}
}

// A new file, and one of the release before versions were recorded (its
// audit layout is already 2), get the version without a backup.
func TestSchemaRecordedWithoutMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portus.db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if v, _ := schemaIn(t, path); v != SchemaVersion {
		t.Errorf("new file: schema %d", v)
	}
	s, err = Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketMeta) })
	s.Close()
	var log bytes.Buffer
	s, err = OpenWith(path, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if v, ok := schemaIn(t, path); !ok || v != SchemaVersion || log.Len() > 0 || backups(t, path) != nil {
		t.Errorf("unversioned layout-2 file: schema %d (%v), log %q, backups %v", v, ok, log.String(), backups(t, path))
	}
}
