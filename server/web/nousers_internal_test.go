package web

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/boltstore"
)

// usersCounter counts reads of the whole user list.
type usersCounter struct {
	model.Store
	reads atomic.Int32
}

func (c *usersCounter) Users() ([]model.User, error) {
	c.reads.Add(1)
	return c.Store.Users()
}

// Signed-out requests to / ask whether the server has an account yet;
// once it has one the answer is kept, so they stop reading every user.
func TestNoUsersStopsReadingOnceAnAccountExists(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "portus.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	counted := &usersCounter{Store: st}
	accounts, err := account.New(counted, account.Options{Pepper: make([]byte, 32), PasswordParams: account.PasswordParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{accounts: accounts}
	if !h.noUsers() || !h.noUsers() {
		t.Fatal("an empty server has users")
	}
	if _, err := st.CreateUser(model.User{Name: "alice", CreatedAt: time.Now()}, true); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if h.noUsers() {
			t.Fatal("noUsers after the first account was created")
		}
	}
	if n := counted.reads.Load(); n != 3 {
		t.Errorf("the user list was read %d times, want 3 (twice while empty, once to see alice)", n)
	}
}
