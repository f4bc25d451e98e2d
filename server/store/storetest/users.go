package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/portusproject/portus/server/model"
)

var userTests = []subtest{
	{"CreateUserReturnsStoredUser", testCreateUserReturnsStoredUser},
	{"CreateUserExists", testCreateUserExists},
	{"CreateUserFirstIsAdmin", testCreateUserFirstIsAdmin},
	{"CreateUserFirstIsAdminOnlyOnEmptyStore", testCreateUserFirstIsAdminOnlyOnEmptyStore},
	{"CreateUserConcurrentFirstIsAdmin", testCreateUserConcurrentFirstIsAdmin},
	{"UserNotFound", testUserNotFound},
	{"UsersOrderedByName", testUsersOrderedByName},
	{"UpdateUserApplies", testUpdateUserApplies},
	{"UpdateUserAtomic", testUpdateUserAtomic},
	{"UpdateUserChangeErrorAborts", testUpdateUserChangeErrorAborts},
	{"UpdateUserNotFound", testUpdateUserNotFound},
	{"UpdateUserKeepsName", testUpdateUserKeepsName},
}

func testCreateUserReturnsStoredUser(t *testing.T, s model.Store) {
	want := model.User{Name: "alice", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", Disabled: true, CreatedAt: now()}
	got, err := s.CreateUser(want, false)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if d := userDiff(got, want); d != "" {
		t.Errorf("CreateUser returned: %s", d)
	}
	stored, err := s.User("alice")
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	if d := userDiff(stored, want); d != "" {
		t.Errorf("User after CreateUser(firstIsAdmin=false): %s", d)
	}
}

func testCreateUserExists(t *testing.T, s model.Store) {
	first := mustCreateUser(t, s, "alice")
	_, err := s.CreateUser(model.User{Name: "alice", PasswordHash: "other", Admin: true, CreatedAt: now()}, true)
	if !errors.Is(err, model.ErrUserExists) {
		t.Fatalf("second CreateUser(alice) = %v, want ErrUserExists", err)
	}
	stored, err := s.User("alice")
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	if d := userDiff(stored, first); d != "" {
		t.Errorf("the failed CreateUser changed the user: %s", d)
	}
	if users, err := s.Users(); err != nil || len(users) != 1 {
		t.Errorf("Users() = %d users, %v; want 1", len(users), err)
	}
}

func testCreateUserFirstIsAdmin(t *testing.T, s model.Store) {
	for i, name := range []string{"alice", "bob", "carol"} {
		got, err := s.CreateUser(model.User{Name: name, CreatedAt: now()}, true)
		if err != nil {
			t.Fatalf("CreateUser(%s): %v", name, err)
		}
		wantAdmin := i == 0
		if got.Admin != wantAdmin {
			t.Errorf("CreateUser(%s, firstIsAdmin) returned Admin=%v, want %v", name, got.Admin, wantAdmin)
		}
		stored, err := s.User(name)
		if err != nil {
			t.Fatalf("User(%s): %v", name, err)
		}
		if stored.Admin != wantAdmin {
			t.Errorf("stored %s has Admin=%v, want %v", name, stored.Admin, wantAdmin)
		}
	}
}

func testCreateUserFirstIsAdminOnlyOnEmptyStore(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice") // the first user, firstIsAdmin=false
	got, err := s.CreateUser(model.User{Name: "bob", CreatedAt: now()}, true)
	if err != nil {
		t.Fatalf("CreateUser(bob): %v", err)
	}
	if got.Admin {
		t.Error("second user became admin with firstIsAdmin although the store had a user")
	}
	for _, name := range []string{"alice", "bob"} {
		if u, err := s.User(name); err != nil || u.Admin {
			t.Errorf("User(%s) = Admin %v, %v; want not admin", name, u.Admin, err)
		}
	}
}

func testCreateUserConcurrentFirstIsAdmin(t *testing.T, s model.Store) {
	const n = 20
	var (
		wg       sync.WaitGroup
		returned [n]model.User
		errs     [n]error
	)
	for i := range n {
		wg.Go(func() {
			returned[i], errs[i] = s.CreateUser(model.User{Name: fmt.Sprintf("user%02d", i), CreatedAt: now()}, true)
		})
	}
	wg.Wait()
	admins := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("CreateUser(user%02d): %v", i, errs[i])
		}
		if returned[i].Admin {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("%d concurrent CreateUser(firstIsAdmin) returned %d admins, want 1", n, admins)
	}
	users, err := s.Users()
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	if len(users) != n {
		t.Fatalf("Users() has %d users, want %d", len(users), n)
	}
	storedAdmins := 0
	for _, u := range users {
		if u.Admin {
			storedAdmins++
			if !returned[mustAtoi(t, u.Name[len("user"):])].Admin {
				t.Errorf("stored admin %s was not returned as admin", u.Name)
			}
		}
	}
	if storedAdmins != 1 {
		t.Errorf("store holds %d admins, want 1", storedAdmins)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testUserNotFound(t *testing.T, s model.Store) {
	if _, err := s.User("nobody"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("User(nobody) on an empty store = %v, want ErrNotFound", err)
	}
	mustCreateUser(t, s, "alice")
	if _, err := s.User("nobody"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("User(nobody) = %v, want ErrNotFound", err)
	}
}

func testUsersOrderedByName(t *testing.T, s model.Store) {
	users, err := s.Users()
	if err != nil || len(users) != 0 {
		t.Fatalf("Users() on an empty store = %v, %v; want none", users, err)
	}
	created := map[string]model.User{}
	for _, name := range []string{"mallory", "bob", "zoe", "alice", "carol", "bobby"} {
		created[name] = mustCreateUser(t, s, name)
	}
	users, err = s.Users()
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	want := []string{"alice", "bob", "bobby", "carol", "mallory", "zoe"}
	var got []string
	for _, u := range users {
		got = append(got, u.Name)
		if d := userDiff(u, created[u.Name]); d != "" {
			t.Errorf("Users(): %s", d)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Users() = %v, want %v", got, want)
	}
}

func testUpdateUserApplies(t *testing.T, s model.Store) {
	orig := mustCreateUser(t, s, "alice")
	mustCreateUser(t, s, "bob")
	got, err := s.UpdateUser("alice", func(u *model.User) error {
		if d := userDiff(*u, orig); d != "" {
			t.Errorf("change got the wrong user: %s", d)
		}
		u.Disabled = true
		u.Admin = true
		u.PasswordHash = "new-hash"
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	want := orig
	want.Disabled, want.Admin, want.PasswordHash = true, true, "new-hash"
	if d := userDiff(got, want); d != "" {
		t.Errorf("UpdateUser returned: %s", d)
	}
	stored, err := s.User("alice")
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	if d := userDiff(stored, want); d != "" {
		t.Errorf("User after UpdateUser: %s", d)
	}
	if bob, err := s.User("bob"); err != nil || bob.Disabled || bob.Admin {
		t.Errorf("UpdateUser(alice) touched bob: %+v, %v", bob, err)
	}
}

// testUpdateUserAtomic runs read-modify-write changes concurrently; a lost
// update shows as a count below n.
func testUpdateUserAtomic(t *testing.T, s model.Store) {
	const n = 20
	u := mustCreateUser(t, s, "alice")
	if _, err := s.UpdateUser(u.Name, func(u *model.User) error { u.PasswordHash = "0"; return nil }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.UpdateUser("alice", func(u *model.User) error {
				c, err := strconv.Atoi(u.PasswordHash)
				if err != nil {
					return err
				}
				u.PasswordHash = strconv.Itoa(c + 1)
				return nil
			})
			if err != nil {
				t.Errorf("UpdateUser: %v", err)
			}
		})
	}
	wg.Wait()
	stored, err := s.User("alice")
	if err != nil {
		t.Fatal(err)
	}
	if stored.PasswordHash != strconv.Itoa(n) {
		t.Errorf("after %d concurrent increments the counter is %q: updates were lost", n, stored.PasswordHash)
	}
}

var errBoom = errors.New("storetest: change refused")

func testUpdateUserChangeErrorAborts(t *testing.T, s model.Store) {
	orig := mustCreateUser(t, s, "alice")
	_, err := s.UpdateUser("alice", func(u *model.User) error {
		u.Admin = true
		u.Disabled = true
		u.PasswordHash = "changed"
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("UpdateUser = %v, want the error of change", err)
	}
	stored, err := s.User("alice")
	if err != nil {
		t.Fatal(err)
	}
	if d := userDiff(stored, orig); d != "" {
		t.Errorf("a change that failed was written: %s", d)
	}
}

func testUpdateUserNotFound(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	_, err := s.UpdateUser("nobody", func(u *model.User) error {
		u.Admin = true
		return nil
	})
	if !errors.Is(err, model.ErrNotFound) {
		t.Errorf("UpdateUser(nobody) = %v, want ErrNotFound", err)
	}
	if _, err := s.User("nobody"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("UpdateUser(nobody) created the user: User = %v", err)
	}
	if users, err := s.Users(); err != nil || len(users) != 1 {
		t.Errorf("Users() = %v, %v; want only alice", users, err)
	}
}

func testUpdateUserKeepsName(t *testing.T, s model.Store) {
	mustCreateUser(t, s, "alice")
	got, err := s.UpdateUser("alice", func(u *model.User) error {
		u.Name = "mallory"
		u.Disabled = true
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if got.Name != "alice" || !got.Disabled {
		t.Errorf("UpdateUser returned %+v, want name alice and the other changes applied", got)
	}
	if u, err := s.User("alice"); err != nil || u.Name != "alice" || !u.Disabled {
		t.Errorf("User(alice) = %+v, %v; want disabled alice", u, err)
	}
	if _, err := s.User("mallory"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("renaming in change created a user: User(mallory) = %v", err)
	}
	if users, err := s.Users(); err != nil || len(users) != 1 {
		t.Errorf("Users() = %v, %v; want only alice", users, err)
	}
}
