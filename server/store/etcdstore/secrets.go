package etcdstore

import (
	"bytes"
	"fmt"
	"slices"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// The shared secrets are stored sealed (seal.go): a snapshot of etcd holds
// them only encrypted under the secrets key, which lives in a file on the
// replicas. Values are compared by ModRevision, never by content, since
// sealing the same secret twice gives different bytes.

func (s *Store) secretKey(name string) (string, error) {
	if !slices.Contains(model.SecretNames, name) {
		return "", fmt.Errorf("unknown shared secret %q", name)
	}
	return s.k.secret(name), nil
}

// readSecret returns the secret's stored entry (nil: none) and its
// plaintext. A plaintext entry from an older deployment is sealed in
// place first, when the store has a key.
func (s *Store) readSecret(op, name, key string) (*mvccpb.KeyValue, []byte, error) {
	for range maxAttempts {
		resp, err := s.get(op, key)
		if err != nil || len(resp.Kvs) == 0 {
			return nil, nil, err
		}
		kv := resp.Kvs[0]
		plain, legacy, err := s.seal.open(name, kv.Value)
		if err != nil || !legacy {
			return kv, plain, err
		}
		sealed, err := s.seal.seal(name, plain)
		if err != nil {
			return nil, nil, err
		}
		tr, err := s.txn(op, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)}, []clientv3.Op{clientv3.OpPut(key, string(sealed))}, nil)
		if err != nil {
			return nil, nil, err
		}
		if tr.Succeeded {
			s.log.Info("encrypted a shared secret that an older portus had stored in plaintext in etcd", "secret", name)
		}
		// Read again: the sealed entry, ours or another replica's.
	}
	return nil, nil, model.Unavailable(op, errContention)
}

// sealSecrets reads every shared secret once at Open, so that a wrong or
// missing key stops the process at start and the plaintext entries of an
// older deployment are sealed before anything else runs.
func (s *Store) sealSecrets() error {
	for _, name := range model.SecretNames {
		if _, _, err := s.readSecret("reading shared secret "+name, name, s.k.secret(name)); err != nil {
			return err
		}
	}
	return nil
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
	kv, plain, err := s.readSecret(op, name, key)
	if err != nil || kv != nil {
		return plain, err
	}
	if create == nil {
		return nil, fmt.Errorf("shared secret %s: %w", name, model.ErrNotFound)
	}
	fresh, err := create()
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal.seal(name, fresh)
	if err != nil {
		return nil, err
	}
	tr, err := s.txn(op, []clientv3.Cmp{missing(key)}, []clientv3.Op{clientv3.OpPut(key, string(sealed))}, nil)
	if err != nil {
		return nil, err
	}
	if tr.Succeeded {
		return bytes.Clone(fresh), nil
	}
	kv, plain, err = s.readSecret(op, name, key)
	if err == nil && kv == nil {
		return nil, model.Unavailable(op, fmt.Errorf("shared secret %s vanished while being created", name))
	}
	return plain, err
}

// ReplaceSharedSecret implements model.Store: it reads the stored secret,
// and if that is still old writes next in a Txn that compares the entry's
// ModRevision with the one read.
func (s *Store) ReplaceSharedSecret(name string, old, next []byte) ([]byte, error) {
	op := "replacing shared secret " + name
	key, err := s.secretKey(name)
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal.seal(name, next)
	if err != nil {
		return nil, err
	}
	for range maxAttempts {
		kv, plain, err := s.readSecret(op, name, key)
		if err != nil {
			return nil, err
		}
		cmp := missing(key)
		switch {
		case kv == nil && old != nil:
			return nil, fmt.Errorf("shared secret %s: %w", name, model.ErrNotFound)
		case kv != nil && (old == nil || !bytes.Equal(plain, old)):
			return plain, nil
		case kv != nil:
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)
		}
		tr, err := s.txn(op, []clientv3.Cmp{cmp}, []clientv3.Op{clientv3.OpPut(key, string(sealed))}, nil)
		if err != nil {
			return nil, err
		}
		if tr.Succeeded {
			return bytes.Clone(next), nil
		}
	}
	return nil, model.Unavailable(op, errContention)
}
