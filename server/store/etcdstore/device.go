package etcdstore

import (
	"encoding/hex"
	"encoding/json"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/model"
)

// The device authorization grant's keys (outside auth/: no replica caches
// them, every read goes to etcd, so a poll on any replica sees an approval
// made on another):
//
//	P device/HEX(HMAC(device code))      model.DeviceGrant
//	P device-users/HEX(HMAC(user code))  HEX(HMAC(device code))
func (k keys) devicePrefix() string       { return k.prefix + "device/" }
func (k keys) device(hash []byte) string  { return k.devicePrefix() + hex.EncodeToString(hash) }
func (k keys) deviceUser(h []byte) string { return k.prefix + "device-users/" + hex.EncodeToString(h) }

// CreateDeviceGrant implements model.Store: the grant and its user-code
// index, if neither exists, in one Txn.
func (s *Store) CreateDeviceGrant(g model.DeviceGrant) error {
	const op = "creating device grant"
	dk, uk := s.k.device(g.DeviceHash), s.k.deviceUser(g.UserHash)
	resp, err := s.txn(op,
		[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(dk), "=", 0), clientv3.Compare(clientv3.CreateRevision(uk), "=", 0)},
		[]clientv3.Op{clientv3.OpPut(dk, mustJSON(g)), clientv3.OpPut(uk, hex.EncodeToString(g.DeviceHash))}, nil)
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return model.ErrDeviceCodeTaken
	}
	return nil
}

// readDeviceGrant reads the grant at key with its ModRevision.
func (s *Store) readDeviceGrant(op, key string) (model.DeviceGrant, int64, error) {
	var g model.DeviceGrant
	resp, err := s.get(op, key)
	if err != nil {
		return g, 0, err
	}
	if len(resp.Kvs) == 0 {
		return g, 0, model.ErrNotFound
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &g); err != nil {
		return g, 0, model.Unavailable(op, err)
	}
	return g, resp.Kvs[0].ModRevision, nil
}

// DeviceGrantByUserCode implements model.Store: the index and the grant
// it names, read at one revision.
func (s *Store) DeviceGrantByUserCode(userHash []byte) (model.DeviceGrant, error) {
	const op = "looking up device grant"
	if len(userHash) == 0 {
		return model.DeviceGrant{}, model.ErrNotFound
	}
	resp, err := s.get(op, s.k.deviceUser(userHash))
	if err != nil {
		return model.DeviceGrant{}, err
	}
	if len(resp.Kvs) == 0 {
		return model.DeviceGrant{}, model.ErrNotFound
	}
	device, err := hex.DecodeString(string(resp.Kvs[0].Value))
	if err != nil {
		return model.DeviceGrant{}, model.Unavailable(op, err)
	}
	g, _, err := s.readDeviceGrant(op, s.k.device(device))
	return g, err
}

// UpdateDeviceGrant implements model.Store (see casDeviceGrant).
func (s *Store) UpdateDeviceGrant(deviceHash []byte, change func(*model.DeviceGrant) error) (model.DeviceGrant, error) {
	return s.casDeviceGrant("updating device grant", deviceHash, func(g model.DeviceGrant) (model.DeviceGrant, []clientv3.Op, error) {
		device, user := g.DeviceHash, g.UserHash
		if err := change(&g); err != nil {
			return g, nil, err
		}
		g.DeviceHash, g.UserHash = device, user
		return g, []clientv3.Op{clientv3.OpPut(s.k.device(device), mustJSON(g))}, nil
	})
}

// TakeDeviceGrant implements model.Store: the grant is deleted as it was
// read, so of two takers only one succeeds; the other reads again and
// finds nothing.
func (s *Store) TakeDeviceGrant(deviceHash []byte) (model.DeviceGrant, error) {
	return s.casDeviceGrant("taking device grant", deviceHash, func(g model.DeviceGrant) (model.DeviceGrant, []clientv3.Op, error) {
		return g, s.deleteDeviceOps(g), nil
	})
}

// casDeviceGrant reads the grant of deviceHash, and commits the operations
// that next makes of it in a Txn that succeeds only if the grant is
// unchanged since the read; else it reads again. It returns what next
// returned for the attempt that committed.
func (s *Store) casDeviceGrant(op string, deviceHash []byte, next func(model.DeviceGrant) (model.DeviceGrant, []clientv3.Op, error)) (model.DeviceGrant, error) {
	var out model.DeviceGrant
	if len(deviceHash) == 0 {
		return out, model.ErrNotFound
	}
	key := s.k.device(deviceHash)
	err := retry(op, func() (bool, error) {
		g, rev, err := s.readDeviceGrant(op, key)
		if err != nil {
			return false, err
		}
		g, ops, err := next(g)
		if err != nil {
			return false, err
		}
		resp, err := s.txn(op, []clientv3.Cmp{unchanged(key, rev)}, ops, nil)
		if err != nil {
			return false, err
		}
		out = g
		return resp.Succeeded, nil
	})
	if err != nil {
		return model.DeviceGrant{}, err
	}
	return out, nil
}

// deleteDeviceOps delete g and its index entry, the latter only while it
// still names g.
func (s *Store) deleteDeviceOps(g model.DeviceGrant) []clientv3.Op {
	uk := s.k.deviceUser(g.UserHash)
	return []clientv3.Op{
		clientv3.OpDelete(s.k.device(g.DeviceHash)),
		clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(uk), "=", hex.EncodeToString(g.DeviceHash))},
			[]clientv3.Op{clientv3.OpDelete(uk)}, nil),
	}
}

// deviceBatch is how many grants one pruning Txn removes.
const deviceBatch = 40

// PruneDeviceGrants implements model.Store. Each expired grant is deleted
// by a nested Txn that compares it, so one taken meanwhile is not
// reported twice.
func (s *Store) PruneDeviceGrants(before time.Time) ([]model.DeviceGrant, error) {
	const op = "pruning device grants"
	kvs, _, err := s.getAll(op, s.k.devicePrefix(), 0)
	if err != nil {
		return nil, err
	}
	var (
		stale []model.DeviceGrant
		ops   []clientv3.Op
	)
	for _, kv := range kvs {
		var g model.DeviceGrant
		if err := json.Unmarshal(kv.Value, &g); err != nil {
			return nil, model.Unavailable(op, err)
		}
		if g.ExpiresAt.After(before) {
			continue
		}
		stale = append(stale, g)
		ops = append(ops, clientv3.OpTxn([]clientv3.Cmp{unchanged(string(kv.Key), kv.ModRevision)}, s.deleteDeviceOps(g), nil))
	}
	var gone []model.DeviceGrant
	for len(ops) > 0 {
		n := min(len(ops), deviceBatch)
		resp, err := s.txn(op, nil, ops[:n], nil)
		if err != nil {
			return gone, err
		}
		for i, r := range resp.Responses {
			if r.GetResponseTxn().GetSucceeded() {
				gone = append(gone, stale[i])
			}
		}
		ops, stale = ops[n:], stale[n:]
	}
	return gone, nil
}
