package boltstore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/storetest"
)

const testLockTimeout = 200 * time.Millisecond

// openAt opens the store at path and closes it when the test ends; a Close
// the test already did makes the second one a no-op whose error is ignored.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, testLockTimeout)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openTemp(t *testing.T) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "portus.db"))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) model.Store { return openTemp(t) })
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portus.db")
	s := openAt(t, path)
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("new file has mode %o, want 600", m)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// An existing file that is readable by others is tightened.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, path); m != 0o644 {
		t.Fatalf("chmod 644 gave mode %o", m)
	}
	openAt(t, path)
	if m := fileMode(t, path); m != 0o600 {
		t.Errorf("existing 644 file has mode %o after Open, want 600", m)
	}
}

// openWithin opens path in a goroutine and fails the test if Open has not
// returned after limit.
func openWithin(t *testing.T, path string, lockTimeout, limit time.Duration) (*Store, time.Duration, error) {
	t.Helper()
	type result struct {
		s   *Store
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		s, err := Open(path, lockTimeout)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.s != nil {
			t.Cleanup(func() { _ = r.s.Close() })
		}
		return r.s, time.Since(start), r.err
	case <-time.After(limit):
		t.Fatalf("Open of a locked file with lock timeout %v has not returned after %v", lockTimeout, limit)
		return nil, 0, nil
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portus.db")
	first := openAt(t, path)

	s, took, err := openWithin(t, path, testLockTimeout, 5*time.Second)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open while the first is open = %v, %v; want an error wrapping ErrLocked", s, err)
	}
	if took < testLockTimeout/2 || took > testLockTimeout+2*time.Second {
		t.Errorf("second Open failed after %v, want about the lock timeout %v", took, testLockTimeout)
	}

	// A zero timeout means a default, not bbolt's "wait forever".
	if _, _, err := openWithin(t, path, 0, 10*time.Second); !errors.Is(err, ErrLocked) {
		t.Errorf("Open with lock timeout 0 while locked = %v, want ErrLocked", err)
	}

	// The first store is unharmed, and once it is closed the file opens.
	if _, err := first.Users(); err != nil {
		t.Errorf("first store after the failed Open: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openWithin(t, path, testLockTimeout, 5*time.Second); err != nil {
		t.Errorf("Open after the holder closed: %v", err)
	}
}

func testToken(owner, name string, created time.Time) model.Token {
	hash := make([]byte, 32)
	rand.Read(hash)
	return model.Token{
		ID:         fmt.Sprintf("%s-%s-%x", owner, name, hash[:4]),
		Owner:      owner,
		Name:       name,
		Hash:       hash,
		Scope:      "repository:*:pull",
		CreatedAt:  created,
		CreatedVia: "test",
	}
}

// fixture is what populate writes.
type fixture struct {
	users  []model.User
	tokens []model.Token
	acts   []model.Activity
}

func populate(t *testing.T, s model.Store) fixture {
	t.Helper()
	var f fixture
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	for i, name := range []string{"alice", "bob"} {
		u, err := s.CreateUser(model.User{Name: name, PasswordHash: "$argon2id$" + name, CreatedAt: t0}, i == 0)
		if err != nil {
			t.Fatal(err)
		}
		f.users = append(f.users, u)
		for j, tn := range []string{"ci", "laptop"} {
			tok := testToken(name, tn, t0.Add(time.Duration(j)*time.Second))
			exp := t0.Add(24 * time.Hour)
			tok.ExpiresAt = &exp
			if _, err := s.CreateToken(model.NewToken{Token: tok, Limit: 10}); err != nil {
				t.Fatal(err)
			}
			f.tokens = append(f.tokens, tok)
		}
	}
	used := t0.Add(time.Minute)
	if err := s.RecordTokenUse(map[string]model.TokenUse{f.tokens[0].ID: {At: used}}); err != nil {
		t.Fatal(err)
	}
	f.tokens[0].LastUsedAt = &used
	for i := range 3 {
		a := model.Activity{Time: t0, Action: fmt.Sprintf("login-%d", i), Actor: "alice", Subject: "bob"}
		if err := s.AddActivity(a, 0); err != nil {
			t.Fatal(err)
		}
	}
	acts, err := s.Activities(model.ActivityQuery{})
	if err != nil || len(acts) != 3 {
		t.Fatalf("Activities = %v, %v", acts, err)
	}
	f.acts = acts
	return f
}

// check fails unless s holds exactly f.
func (f fixture) check(t *testing.T, s model.Store) {
	t.Helper()
	users, err := s.Users()
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	if len(users) != len(f.users) {
		t.Errorf("Users = %+v, want %+v", users, f.users)
	}
	for i := range min(len(users), len(f.users)) {
		got, want := users[i], f.users[i]
		if got.Name != want.Name || got.PasswordHash != want.PasswordHash || got.Admin != want.Admin ||
			got.Disabled != want.Disabled || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("user %d = %+v, want %+v", i, got, want)
		}
	}
	for _, want := range f.tokens {
		got, owner, err := s.TokenByHash(want.Hash)
		if err != nil {
			t.Errorf("TokenByHash(%s): %v", want.ID, err)
			continue
		}
		if got.ID != want.ID || owner.Name != want.Owner || got.Name != want.Name || !bytes.Equal(got.Hash, want.Hash) ||
			!got.CreatedAt.Equal(want.CreatedAt) || !samePtr(got.ExpiresAt, want.ExpiresAt) || !samePtr(got.LastUsedAt, want.LastUsedAt) {
			t.Errorf("TokenByHash(%s) = %+v, want %+v", want.ID, got, want)
		}
	}
	for _, u := range f.users {
		list, err := s.Tokens(u.Name)
		if err != nil {
			t.Fatalf("Tokens(%s): %v", u.Name, err)
		}
		var want []string
		for _, tok := range f.tokens {
			if tok.Owner == u.Name {
				want = append(want, tok.ID)
			}
		}
		var got []string
		for _, tok := range list {
			got = append(got, tok.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Tokens(%s) = %v, want %v", u.Name, got, want)
		}
	}
	acts, err := s.Activities(model.ActivityQuery{})
	if err != nil {
		t.Fatalf("Activities: %v", err)
	}
	if fmt.Sprint(acts) != fmt.Sprint(f.acts) {
		t.Errorf("Activities = %+v, want %+v", acts, f.acts)
	}
}

func samePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portus.db")
	s := openAt(t, path)
	f := populate(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	f.check(t, s)

	// Activity IDs keep increasing across a reopen.
	if err := s.AddActivity(model.Activity{Time: time.Now().UTC(), Action: "after-reopen", Actor: "bob"}, 0); err != nil {
		t.Fatal(err)
	}
	acts, err := s.Activities(model.ActivityQuery{Limit: 1})
	if err != nil || len(acts) != 1 || acts[0].Action != "after-reopen" || acts[0].ID <= f.acts[0].ID {
		t.Errorf("newest activity after reopen = %+v, %v; want after-reopen with an ID above %d", acts, err, f.acts[0].ID)
	}
	// The first-admin rule still sees the users.
	u, err := s.CreateUser(model.User{Name: "carol", CreatedAt: time.Now().UTC()}, true)
	if err != nil || u.Admin {
		t.Errorf("CreateUser(firstIsAdmin) after reopen = %+v, %v; want no admin", u, err)
	}
}

func TestBackupOpens(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, filepath.Join(dir, "portus.db"))
	f := populate(t, s)

	backup := filepath.Join(dir, "backup.db")
	out, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Backup(out)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 || n != fi.Size() {
		t.Errorf("Backup reported %d bytes, the file has %d", n, fi.Size())
	}

	// Writes after the backup are not in it.
	if _, err := s.CreateUser(model.User{Name: "zed", CreatedAt: time.Now().UTC()}, false); err != nil {
		t.Fatal(err)
	}

	restored := openAt(t, backup)
	f.check(t, restored)
}

// TestReplaceSharedSecretOneWinner: of many concurrent replacements of
// the same old value, exactly one wins and all see the winner's bytes.
func TestReplaceSharedSecretOneWinner(t *testing.T) {
	f := SecretFiles{Dir: t.TempDir()}
	old, err := f.SharedSecret(model.SecretSigningNextCert, func() ([]byte, error) { return []byte("old"), nil })
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	results := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := f.ReplaceSharedSecret(model.SecretSigningNextCert, old, []byte(fmt.Sprintf("next-%d", i)))
			if err != nil {
				t.Error(err)
			}
			results[i] = got
		}()
	}
	wg.Wait()
	for i := range n {
		if !bytes.Equal(results[i], results[0]) {
			t.Fatalf("replacement %d saw %q, replacement 0 saw %q: more than one won", i, results[i], results[0])
		}
	}
}
