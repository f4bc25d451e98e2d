package boltstore

import (
	"bytes"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// The device authorization grant's buckets, made on first write (a file
// of an older release simply has none yet):
//
//	device_grants     HMAC(device code) → model.DeviceGrant
//	device_users      HMAC(user code) → HMAC(device code)
var (
	bucketDeviceGrants = []byte("device_grants")
	bucketDeviceUsers  = []byte("device_users")
)

// deviceBuckets returns the two buckets inside a writable tx, made if
// missing.
func deviceBuckets(tx *bolt.Tx) (grants, users *bolt.Bucket, err error) {
	if grants, err = tx.CreateBucketIfNotExists(bucketDeviceGrants); err != nil {
		return nil, nil, err
	}
	users, err = tx.CreateBucketIfNotExists(bucketDeviceUsers)
	return grants, users, err
}

// CreateDeviceGrant implements model.Store.
func (s *Store) CreateDeviceGrant(g model.DeviceGrant) error {
	return s.update("creating device grant", func(tx *bolt.Tx) error {
		grants, users, err := deviceBuckets(tx)
		if err != nil {
			return err
		}
		if grants.Get(g.DeviceHash) != nil || users.Get(g.UserHash) != nil {
			return &abortError{model.ErrDeviceCodeTaken}
		}
		if err := users.Put(g.UserHash, g.DeviceHash); err != nil {
			return err
		}
		return putJSON(grants, g.DeviceHash, g)
	})
}

// DeviceGrantByUserCode implements model.Store.
func (s *Store) DeviceGrantByUserCode(userHash []byte) (model.DeviceGrant, error) {
	var g model.DeviceGrant
	err := s.view("looking up device grant", func(tx *bolt.Tx) error {
		grants, users := tx.Bucket(bucketDeviceGrants), tx.Bucket(bucketDeviceUsers)
		if grants == nil || users == nil || len(userHash) == 0 {
			return model.ErrNotFound
		}
		device := users.Get(userHash)
		if device == nil {
			return model.ErrNotFound
		}
		return getJSON(grants, device, &g)
	})
	return g, err
}

// UpdateDeviceGrant implements model.Store.
func (s *Store) UpdateDeviceGrant(deviceHash []byte, change func(*model.DeviceGrant) error) (model.DeviceGrant, error) {
	return s.deviceTx("updating device grant", deviceHash, func(grants, _ *bolt.Bucket, g *model.DeviceGrant) error {
		device, user := g.DeviceHash, g.UserHash
		if err := change(g); err != nil {
			return &abortError{err}
		}
		g.DeviceHash, g.UserHash = device, user
		return putJSON(grants, device, *g)
	})
}

// TakeDeviceGrant implements model.Store.
func (s *Store) TakeDeviceGrant(deviceHash []byte) (model.DeviceGrant, error) {
	return s.deviceTx("taking device grant", deviceHash, func(grants, users *bolt.Bucket, g *model.DeviceGrant) error {
		return deleteDeviceGrant(grants, users, *g)
	})
}

// deviceTx runs f on the grant of deviceHash in one writable transaction
// and returns the grant as f left it. Errors: ErrNotFound.
func (s *Store) deviceTx(op string, deviceHash []byte, f func(grants, users *bolt.Bucket, g *model.DeviceGrant) error) (model.DeviceGrant, error) {
	var g model.DeviceGrant
	err := s.update(op, func(tx *bolt.Tx) error {
		grants, users, err := deviceBuckets(tx)
		if err != nil {
			return err
		}
		if len(deviceHash) == 0 {
			return model.ErrNotFound
		}
		if err := getJSON(grants, deviceHash, &g); err != nil {
			return err
		}
		return f(grants, users, &g)
	})
	if err != nil {
		return model.DeviceGrant{}, err
	}
	return g, nil
}

func deleteDeviceGrant(grants, users *bolt.Bucket, g model.DeviceGrant) error {
	if bytes.Equal(users.Get(g.UserHash), g.DeviceHash) {
		if err := users.Delete(g.UserHash); err != nil {
			return err
		}
	}
	return grants.Delete(g.DeviceHash)
}

// PruneDeviceGrants implements model.Store.
func (s *Store) PruneDeviceGrants(before time.Time) ([]model.DeviceGrant, error) {
	var gone []model.DeviceGrant
	err := s.update("pruning device grants", func(tx *bolt.Tx) error {
		gone = nil
		grants, users, err := deviceBuckets(tx)
		if err != nil {
			return err
		}
		err = grants.ForEach(func(_, v []byte) error {
			var g model.DeviceGrant
			if err := json.Unmarshal(v, &g); err != nil {
				return err
			}
			if !g.ExpiresAt.After(before) {
				gone = append(gone, g)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, g := range gone {
			if err := deleteDeviceGrant(grants, users, g); err != nil {
				return err
			}
		}
		return nil
	})
	return gone, err
}
