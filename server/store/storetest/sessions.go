package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

var sessionTests = []subtest{
	{"CreateSessionAndLookup", testCreateSessionAndLookup},
	{"CreateSessionUnknownUser", testCreateSessionUnknownUser},
	{"SessionByIDNotFound", testSessionByIDNotFound},
	{"SessionByIDSeesUserChanges", testSessionByIDSeesUserChanges},
	{"TouchSession", testTouchSession},
	{"TouchSessionNotFound", testTouchSessionNotFound},
	{"DeleteSession", testDeleteSession},
	{"DeleteUserSessions", testDeleteUserSessions},
	{"PruneSessions", testPruneSessions},
	{"SessionsConcurrent", testSessionsConcurrent},
}

// newSession builds a session of user with a random 32-byte id.
func newSession(user string, created time.Time) model.Session {
	id := make([]byte, 32)
	rand.Read(id)
	csrf := make([]byte, 8)
	rand.Read(csrf)
	return model.Session{ID: id, User: user, CSRFToken: fmt.Sprintf("csrf-%x", csrf), CreatedAt: created, LastSeen: created}
}

func mustCreateSession(t *testing.T, s model.Store, sess model.Session) {
	t.Helper()
	if err := s.CreateSession(sess); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.User, err)
	}
}

func sessionDiff(got, want model.Session) string {
	if !bytes.Equal(got.ID, want.ID) || got.User != want.User || got.CSRFToken != want.CSRFToken ||
		!sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.LastSeen, want.LastSeen) {
		return fmt.Sprintf("got session %+v, want %+v", got, want)
	}
	return ""
}

// sessionExists reports whether SessionByID finds id, failing on other errors.
func sessionExists(t *testing.T, s model.Store, id []byte) bool {
	t.Helper()
	_, _, err := s.SessionByID(id)
	switch {
	case err == nil:
		return true
	case errors.Is(err, model.ErrNotFound):
		return false
	}
	t.Fatalf("SessionByID: %v", err)
	return false
}

func testCreateSessionAndLookup(t *testing.T, s model.Store) {
	alice := mustCreateUser(t, s, "alice")
	want := newSession("alice", now())
	mustCreateSession(t, s, want)
	got, u, err := s.SessionByID(want.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	if d := sessionDiff(got, want); d != "" {
		t.Error(d)
	}
	if d := userDiff(u, alice); d != "" {
		t.Errorf("SessionByID returned the wrong user: %s", d)
	}
	// A second session of the same user is independent.
	other := newSession("alice", now())
	mustCreateSession(t, s, other)
	if !sessionExists(t, s, want.ID) || !sessionExists(t, s, other.ID) {
		t.Error("a user's second session hid the first")
	}
}

func testCreateSessionUnknownUser(t *testing.T, s model.Store) {
	sess := newSession("nobody", now())
	if err := s.CreateSession(sess); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("CreateSession for a missing user = %v, want ErrNotFound", err)
	}
	if sessionExists(t, s, sess.ID) {
		t.Error("the refused session was stored")
	}
}

func testSessionByIDNotFound(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	mustCreateSession(t, s, newSession("alice", now()))
	if _, _, err := s.SessionByID(make([]byte, 32)); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SessionByID(unknown) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.SessionByID(nil); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SessionByID(nil) = %v, want ErrNotFound", err)
	}
}

// The user comes with the session as stored now, so that disabling a user
// is seen by the next request of their browser.
func testSessionByIDSeesUserChanges(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	sess := newSession("alice", now())
	mustCreateSession(t, s, sess)
	if _, err := s.UpdateUser("alice", func(u *model.User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	_, u, err := s.SessionByID(sess.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	if !u.Disabled {
		t.Error("SessionByID returned the user as they were when the session started, not as they are")
	}
}

func testTouchSession(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	start := now()
	sess := newSession("alice", start)
	mustCreateSession(t, s, sess)
	later := start.Add(5 * time.Minute)
	if err := s.TouchSession(sess.ID, later); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	got, _, err := s.SessionByID(sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := sess
	want.LastSeen = later
	if d := sessionDiff(got, want); d != "" {
		t.Errorf("after TouchSession: %s", d)
	}
	// An older time does not move LastSeen back.
	if err := s.TouchSession(sess.ID, start.Add(time.Minute)); err != nil {
		t.Fatalf("TouchSession(older): %v", err)
	}
	got, _, _ = s.SessionByID(sess.ID)
	if !got.LastSeen.Equal(later) {
		t.Errorf("TouchSession with an older time set LastSeen to %s, want %s", got.LastSeen, later)
	}
}

func testTouchSessionNotFound(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	if err := s.TouchSession(make([]byte, 32), now()); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("TouchSession(unknown) = %v, want ErrNotFound", err)
	}
}

func testDeleteSession(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	a, b := newSession("alice", now()), newSession("alice", now())
	mustCreateSession(t, s, a)
	mustCreateSession(t, s, b)
	if err := s.DeleteSession(a.ID); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if sessionExists(t, s, a.ID) {
		t.Error("the deleted session is still found")
	}
	if !sessionExists(t, s, b.ID) {
		t.Error("DeleteSession removed another session of the same user")
	}
	if err := s.DeleteSession(a.ID); err != nil {
		t.Errorf("deleting a session twice = %v, want nil", err)
	}
	// The index follows: only b remains for alice.
	if n, err := s.DeleteUserSessions("alice"); err != nil || n != 1 {
		t.Errorf("DeleteUserSessions after DeleteSession = %d, %v; want 1", n, err)
	}
}

func testDeleteUserSessions(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	var alices [][]byte
	for range 3 {
		sess := newSession("alice", now())
		mustCreateSession(t, s, sess)
		alices = append(alices, sess.ID)
	}
	bob := newSession("bob", now())
	mustCreateSession(t, s, bob)

	n, err := s.DeleteUserSessions("alice")
	if err != nil || n != 3 {
		t.Fatalf("DeleteUserSessions(alice) = %d, %v; want 3", n, err)
	}
	for _, id := range alices {
		if sessionExists(t, s, id) {
			t.Error("a session of alice survived DeleteUserSessions")
		}
	}
	if !sessionExists(t, s, bob.ID) {
		t.Error("DeleteUserSessions(alice) removed bob's session")
	}
	if n, err := s.DeleteUserSessions("alice"); err != nil || n != 0 {
		t.Errorf("second DeleteUserSessions(alice) = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteUserSessions("nobody"); err != nil || n != 0 {
		t.Errorf("DeleteUserSessions(nobody) = %d, %v; want 0", n, err)
	}
	// New sessions can start after all were deleted.
	again := newSession("alice", now())
	mustCreateSession(t, s, again)
	if !sessionExists(t, s, again.ID) {
		t.Error("a session created after DeleteUserSessions is not found")
	}
}

func testPruneSessions(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	base := now()
	old := newSession("alice", base.Add(-8*24*time.Hour)) // too old, although seen recently
	old.LastSeen = base.Add(-time.Minute)
	idle := newSession("bob", base.Add(-2*time.Hour)) // not seen for too long
	idle.LastSeen = base.Add(-13 * time.Hour)
	idle.CreatedAt = base.Add(-14 * time.Hour)
	fresh := newSession("alice", base.Add(-time.Hour))
	fresh.LastSeen = base
	for _, sess := range []model.Session{old, idle, fresh} {
		mustCreateSession(t, s, sess)
	}
	n, err := s.PruneSessions(base.Add(-7*24*time.Hour), base.Add(-12*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneSessions = %d, %v; want 2", n, err)
	}
	if sessionExists(t, s, old.ID) || sessionExists(t, s, idle.ID) {
		t.Error("an expired session survived PruneSessions")
	}
	if !sessionExists(t, s, fresh.ID) {
		t.Error("PruneSessions removed a live session")
	}
	if n, err := s.DeleteUserSessions("alice"); err != nil || n != 1 {
		t.Errorf("alice's sessions after pruning = %d, %v; want 1 (the index must follow)", n, err)
	}
	if n, err := s.PruneSessions(base.Add(-7*24*time.Hour), base.Add(-12*time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneSessions with nothing to prune = %d, %v", n, err)
	}
}

func testSessionsConcurrent(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	const n = 20
	sessions := make([]model.Session, n)
	for i := range sessions {
		sessions[i] = newSession("alice", now())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for _, sess := range sessions {
		wg.Go(func() {
			if err := s.CreateSession(sess); err != nil {
				errs <- err
				return
			}
			if err := s.TouchSession(sess.ID, sess.LastSeen.Add(time.Minute)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent CreateSession/TouchSession: %v", err)
	}
	if got, err := s.DeleteUserSessions("alice"); err != nil || got != n {
		t.Errorf("DeleteUserSessions = %d, %v; want %d", got, err, n)
	}
}
