package etcdstore

import (
	"encoding/json"
	"sort"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// Comparisons used throughout.
func missing(key string) clientv3.Cmp { return clientv3.Compare(clientv3.CreateRevision(key), "=", 0) }
func exists(key string) clientv3.Cmp  { return clientv3.Compare(clientv3.Version(key), ">", 0) }
func unchanged(key string, modRev int64) clientv3.Cmp {
	return clientv3.Compare(clientv3.ModRevision(key), "=", modRev)
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // the store's types always encode
	}
	return string(data)
}

// CreateUser implements model.Store. The first user is the one whose
// transaction finds no first-user marker.
func (s *Store) CreateUser(u model.User, firstIsAdmin bool) (model.User, error) {
	const op = "creating user"
	key := s.k.user(u.Name)
	if firstIsAdmin {
		admin := u
		admin.Admin = true
		resp, err := s.authTxn(op,
			[]clientv3.Cmp{missing(key), missing(s.k.firstUser())},
			[]clientv3.Op{clientv3.OpPut(key, mustJSON(admin)), clientv3.OpPut(s.k.firstUser(), "")},
			[]clientv3.Op{clientv3.OpGet(key, clientv3.WithCountOnly())})
		if err != nil {
			return model.User{}, err
		}
		if resp.Succeeded {
			return admin, nil
		}
		if resp.Responses[0].GetResponseRange().Count > 0 {
			return model.User{}, model.ErrUserExists
		}
	}
	resp, err := s.authTxn(op,
		[]clientv3.Cmp{missing(key)},
		[]clientv3.Op{clientv3.OpPut(key, mustJSON(u)), clientv3.OpPut(s.k.firstUser(), "")},
		nil)
	if err != nil {
		return model.User{}, err
	}
	if !resp.Succeeded {
		return model.User{}, model.ErrUserExists
	}
	return u, nil
}

// User implements model.Store from the cache. A name the cache does not
// know is looked for once more after a barrier, so that a user created on
// another replica a moment ago is found.
func (s *Store) User(name string) (model.User, error) {
	const op = "reading user"
	if s.closed.Load() {
		return model.User{}, model.Unavailable(op, errClosed)
	}
	key := s.k.user(name)
	u, res, err := s.cache.user(key)
	if res == hit {
		return u, nil
	}
	if res == refused {
		return u, model.Unavailable(op, err)
	}
	if err := s.barrier(op); err != nil {
		return model.User{}, err
	}
	u, res, err = s.cache.user(key)
	switch res {
	case hit:
		return u, nil
	case refused:
		return u, model.Unavailable(op, err)
	}
	return model.User{}, model.ErrNotFound
}

// Users implements model.Store with a linearizable read.
func (s *Store) Users() ([]model.User, error) {
	const op = "listing users"
	kvs, _, err := s.getAll(op, s.k.usersPrefix(), 0)
	if err != nil {
		return nil, err
	}
	users := make([]model.User, 0, len(kvs))
	for _, kv := range kvs {
		var u model.User
		if err := json.Unmarshal(kv.Value, &u); err != nil {
			return nil, model.Unavailable(op, err)
		}
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	return users, nil
}

// UpdateUser implements model.Store: read, change, and write if the user
// is unchanged since the read; otherwise read again.
func (s *Store) UpdateUser(name string, change func(*model.User) error) (model.User, error) {
	const op = "updating user"
	key := s.k.user(name)
	var u model.User
	err := retry(op, func() (bool, error) {
		resp, err := s.get(op, key)
		if err != nil {
			return false, err
		}
		if len(resp.Kvs) == 0 {
			return false, model.ErrNotFound
		}
		u = model.User{}
		if err := json.Unmarshal(resp.Kvs[0].Value, &u); err != nil {
			return false, model.Unavailable(op, err)
		}
		if err := change(&u); err != nil {
			return false, err
		}
		u.Name = name
		tr, err := s.authTxn(op,
			[]clientv3.Cmp{unchanged(key, resp.Kvs[0].ModRevision)},
			[]clientv3.Op{clientv3.OpPut(key, mustJSON(u))},
			nil)
		if err != nil {
			return false, err
		}
		return tr.Succeeded, nil
	})
	if err != nil {
		return model.User{}, err
	}
	return u, nil
}
