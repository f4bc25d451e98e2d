package etcdstore

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// CreateSession implements model.Store: the session and its index entry,
// if the user exists, in one Txn.
func (s *Store) CreateSession(sess model.Session) error {
	const op = "creating session"
	resp, err := s.txn(op,
		[]clientv3.Cmp{exists(s.k.user(sess.User))},
		[]clientv3.Op{
			clientv3.OpPut(s.k.session(sess.ID), mustJSON(sess)),
			clientv3.OpPut(s.k.userSession(sess.User, sess.ID), ""),
		}, nil)
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return model.ErrNotFound
	}
	return nil
}

// SessionByID implements model.Store: the session with a linearizable
// read, its user from the cache.
func (s *Store) SessionByID(id []byte) (model.Session, model.User, error) {
	const op = "looking up session"
	sess, _, err := s.readSession(op, id)
	if err != nil {
		return model.Session{}, model.User{}, err
	}
	u, err := s.User(sess.User)
	if err != nil {
		return model.Session{}, model.User{}, err
	}
	return sess, u, nil
}

func (s *Store) readSession(op string, id []byte) (model.Session, int64, error) {
	var sess model.Session
	if len(id) == 0 {
		if s.closed.Load() {
			return sess, 0, model.Unavailable(op, errClosed)
		}
		return sess, 0, model.ErrNotFound
	}
	resp, err := s.get(op, s.k.session(id))
	if err != nil {
		return sess, 0, err
	}
	if len(resp.Kvs) == 0 {
		return sess, 0, model.ErrNotFound
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &sess); err != nil {
		return sess, 0, model.Unavailable(op, err)
	}
	return sess, resp.Kvs[0].ModRevision, nil
}

// TouchSession implements model.Store; the later time wins.
func (s *Store) TouchSession(id []byte, at time.Time) error {
	const op = "touching session"
	return retry(op, func() (bool, error) {
		sess, rev, err := s.readSession(op, id)
		if err != nil {
			return false, err
		}
		if !at.After(sess.LastSeen) {
			return true, nil
		}
		sess.LastSeen = at
		key := s.k.session(id)
		resp, err := s.txn(op, []clientv3.Cmp{unchanged(key, rev)}, []clientv3.Op{clientv3.OpPut(key, mustJSON(sess))}, nil)
		if err != nil {
			return false, err
		}
		return resp.Succeeded, nil
	})
}

// DeleteSession implements model.Store.
func (s *Store) DeleteSession(id []byte) error {
	const op = "deleting session"
	return retry(op, func() (bool, error) {
		sess, rev, err := s.readSession(op, id)
		if errors.Is(err, model.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		key := s.k.session(id)
		resp, err := s.txn(op, []clientv3.Cmp{unchanged(key, rev)},
			[]clientv3.Op{clientv3.OpDelete(key), clientv3.OpDelete(s.k.userSession(sess.User, id))}, nil)
		if err != nil {
			return false, err
		}
		return resp.Succeeded, nil
	})
}

// sessionBatch is how many sessions one deleting Txn removes (two
// operations each, within etcd's default of 128 per transaction).
const sessionBatch = 50

// DeleteUserSessions implements model.Store, in transactions of
// sessionBatch sessions.
func (s *Store) DeleteUserSessions(user string) (int, error) {
	const op = "deleting sessions"
	kvs, _, err := s.getAll(op, s.k.userSessions(user), 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for len(kvs) > 0 {
		batch := kvs[:min(len(kvs), sessionBatch)]
		kvs = kvs[len(batch):]
		var ops []clientv3.Op
		for _, kv := range batch {
			idHex := strings.TrimPrefix(string(kv.Key), s.k.userSessions(user))
			ops = append(ops, clientv3.OpDelete(s.k.sessionsPrefix()+idHex), clientv3.OpDelete(string(kv.Key)))
		}
		resp, err := s.txn(op, nil, ops, nil)
		if err != nil {
			return n, err
		}
		for i := 0; i < len(resp.Responses); i += 2 {
			n += int(resp.Responses[i].GetResponseDeleteRange().Deleted)
		}
	}
	return n, nil
}

// PruneSessions implements model.Store. It reads every session: call it
// now and then, not per request. Each stale session is deleted by a nested
// Txn that compares it, so one touched in the meantime stays.
func (s *Store) PruneSessions(createdBefore, seenBefore time.Time) (int, error) {
	const op = "pruning sessions"
	kvs, _, err := s.getAll(op, s.k.sessionsPrefix(), 0)
	if err != nil {
		return 0, err
	}
	var stale []clientv3.Op
	for _, kv := range kvs {
		var sess model.Session
		if err := json.Unmarshal(kv.Value, &sess); err != nil {
			return 0, model.Unavailable(op, err)
		}
		if !sess.CreatedAt.Before(createdBefore) && !sess.LastSeen.Before(seenBefore) {
			continue
		}
		id, err := hex.DecodeString(strings.TrimPrefix(string(kv.Key), s.k.sessionsPrefix()))
		if err != nil {
			continue
		}
		stale = append(stale, clientv3.OpTxn(
			[]clientv3.Cmp{unchanged(string(kv.Key), kv.ModRevision)},
			[]clientv3.Op{clientv3.OpDelete(string(kv.Key)), clientv3.OpDelete(s.k.userSession(sess.User, id))},
			nil))
	}
	n := 0
	for len(stale) > 0 {
		batch := stale[:min(len(stale), sessionBatch)]
		stale = stale[len(batch):]
		resp, err := s.txn(op, nil, batch, nil)
		if err != nil {
			return n, err
		}
		for _, r := range resp.Responses {
			if r.GetResponseTxn().GetSucceeded() {
				n++
			}
		}
	}
	return n, nil
}
