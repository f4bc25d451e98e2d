package api_test

import (
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// failingStore is the real store whose writes fail, while fail is set,
// the way bbolt's fail on a full or read-only disk.
type failingStore struct {
	model.Store
	fail  *atomic.Bool
	errno syscall.Errno
}

func (s *failingStore) err(op string) error {
	if !s.fail.Load() {
		return nil
	}
	return model.Unavailable(op, &os.PathError{Op: "write", Path: "portus.db", Err: s.errno})
}

func (s *failingStore) CreateUser(u model.User, first bool) (model.User, error) {
	if err := s.err("creating user"); err != nil {
		return model.User{}, err
	}
	return s.Store.CreateUser(u, first)
}

func (s *failingStore) UpdateUser(name string, change func(*model.User) error) (model.User, error) {
	if err := s.err("updating user"); err != nil {
		return model.User{}, err
	}
	return s.Store.UpdateUser(name, change)
}

func (s *failingStore) CreateToken(t model.NewToken) (*model.Token, error) {
	if err := s.err("creating token"); err != nil {
		return nil, err
	}
	return s.Store.CreateToken(t)
}

func (s *failingStore) RevokeToken(owner, id string) (model.Token, error) {
	if err := s.err("revoking token"); err != nil {
		return model.Token{}, err
	}
	return s.Store.RevokeToken(owner, id)
}

func (s *failingStore) RecordTokenUse(uses map[string]model.TokenUse) error {
	if err := s.err("recording token use"); err != nil {
		return err
	}
	return s.Store.RecordTokenUse(uses)
}

func (s *failingStore) AddActivity(a model.Activity, keep int) error {
	if err := s.err("adding activity"); err != nil {
		return err
	}
	return s.Store.AddActivity(a, keep)
}

func (s *failingStore) CreateSession(sess model.Session) error {
	if err := s.err("creating session"); err != nil {
		return err
	}
	return s.Store.CreateSession(sess)
}

// TestStoreUnavailableAnswers503: with every write of the store failing
// as on a read-only or full disk (an injected error: the real full disk is
// scripts/e2e TestDiskFull), every write endpoint answers 503 with a
// message that says what is wrong, reads and registry logins go on, and
// nothing acknowledged before is lost or changed by the refused writes.
func TestStoreUnavailableAnswers503(t *testing.T) {
	for _, c := range []struct {
		name  string
		errno syscall.Errno
	}{{"read-only", syscall.EROFS}, {"disk full", syscall.ENOSPC}} {
		t.Run(c.name, func(t *testing.T) {
			fail := &atomic.Bool{}
			s := start(t, testserver.Options{WrapStore: func(st model.Store) model.Store {
				return &failingStore{Store: st, fail: fail, errno: c.errno}
			}})
			alice, root := basic("alice", alicePW), basic("root", rootPW)
			keep := s.CreateToken("alice", alicePW, tokenReq("keep"))
			gone := s.CreateToken("alice", alicePW, tokenReq("gone"))
			s.Expect(http.StatusNoContent, http.MethodDelete, apitypes.CurrentTokenPath, nil, basic("alice", gone.Token))

			fail.Store(true)
			for _, w := range []struct {
				what, method, path string
				body               any
				auth               testserver.Opt
			}{
				{"create a token", http.MethodPost, apitypes.TokensPath, tokenReq("refused"), alice},
				{"create a token for a user", http.MethodPost, "/api/v1/users/alice/tokens", tokenReq("refused-2"), root},
				{"revoke the current token", http.MethodDelete, apitypes.CurrentTokenPath, nil, basic("alice", keep.Token)},
				{"revoke a token by id", http.MethodDelete, apitypes.TokensPath + "/" + keep.ID, nil, alice},
				{"create a user", http.MethodPost, "/api/v1/users", apitypes.CreateUserRequest{Name: "carol", Password: "carol-password"}, root},
				{"disable a user", http.MethodPatch, "/api/v1/users/alice", map[string]bool{"disabled": true}, root},
			} {
				r := s.Do(w.method, w.path, w.body, w.auth)
				if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Message(), "disk full or read-only") {
					t.Errorf("%s: %s, want 503 saying the disk is full or read-only", w.what, r)
				}
			}
			// Reads, and registry logins, go on.
			s.Expect(http.StatusOK, http.MethodGet, "/healthz", nil)
			var list []apitypes.Token
			testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, alice), &list)
			if len(list) != 1 || list[0].ID != keep.ID {
				t.Errorf("tokens while writes fail: %+v", list)
			}
			s.Expect(http.StatusOK, http.MethodGet, tokenPath("repository:alice/app:push"), nil, basic("alice", keep.Token))
			s.Expect(http.StatusUnauthorized, http.MethodGet, tokenPath(), nil, basic("alice", gone.Token))
			if !strings.Contains(s.Log.String(), c.errno.Error()) {
				t.Errorf("the server log does not say %q", c.errno.Error())
			}

			// Space again, and a restart: as acknowledged, and nothing more.
			fail.Store(false)
			s = s.Reopen()
			testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, apitypes.TokensPath, nil, alice), &list)
			if len(list) != 1 || list[0].ID != keep.ID || list[0].LastUsedAt == nil {
				t.Errorf("tokens after the restart: %+v", list)
			}
			s.Expect(http.StatusOK, http.MethodGet, tokenPath(), nil, basic("alice", keep.Token))
			s.Expect(http.StatusUnauthorized, http.MethodGet, tokenPath(), nil, basic("alice", gone.Token))
			s.Expect(http.StatusNotFound, http.MethodGet, "/api/v1/users/carol", nil, root)
			var u apitypes.User
			testserver.Decode(t, s.Expect(http.StatusOK, http.MethodGet, "/api/v1/users/alice", nil, root), &u)
			if u.Disabled {
				t.Error("the refused PATCH disabled alice")
			}
		})
	}
}
