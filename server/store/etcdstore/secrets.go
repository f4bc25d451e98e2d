package etcdstore

import (
	"bytes"
	"fmt"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

func (s *Store) secretKey(name string) (string, error) {
	if !slices.Contains(model.SecretNames, name) {
		return "", fmt.Errorf("unknown shared secret %q", name)
	}
	return s.k.secret(name), nil
}

// SharedSecret implements model.Store: the first process to find none
// stores its own in a Txn that requires the key to be absent; every other
// gets the stored one.
func (s *Store) SharedSecret(name string, create func() ([]byte, error)) ([]byte, error) {
	op := "reading shared secret " + name
	key, err := s.secretKey(name)
	if err != nil {
		return nil, err
	}
	resp, err := s.get(op, key)
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) > 0 {
		return resp.Kvs[0].Value, nil
	}
	if create == nil {
		return nil, fmt.Errorf("shared secret %s: %w", name, model.ErrNotFound)
	}
	fresh, err := create()
	if err != nil {
		return nil, err
	}
	tr, err := s.txn(op, []clientv3.Cmp{missing(key)}, []clientv3.Op{clientv3.OpPut(key, string(fresh))}, []clientv3.Op{clientv3.OpGet(key)})
	if err != nil {
		return nil, err
	}
	if tr.Succeeded {
		return bytes.Clone(fresh), nil
	}
	kvs := tr.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, model.Unavailable(op, fmt.Errorf("shared secret %s vanished while being created", name))
	}
	return kvs[0].Value, nil
}

// ReplaceSharedSecret implements model.Store with a Txn that compares the
// stored value with old.
func (s *Store) ReplaceSharedSecret(name string, old, next []byte) ([]byte, error) {
	op := "replacing shared secret " + name
	key, err := s.secretKey(name)
	if err != nil {
		return nil, err
	}
	cmp := missing(key)
	if old != nil {
		cmp = clientv3.Compare(clientv3.Value(key), "=", string(old))
	}
	tr, err := s.txn(op, []clientv3.Cmp{cmp}, []clientv3.Op{clientv3.OpPut(key, string(next))}, []clientv3.Op{clientv3.OpGet(key)})
	if err != nil {
		return nil, err
	}
	if tr.Succeeded {
		return bytes.Clone(next), nil
	}
	kvs := tr.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, fmt.Errorf("shared secret %s: %w", name, model.ErrNotFound)
	}
	return kvs[0].Value, nil
}
