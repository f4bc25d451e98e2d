package boltstore

import (
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/portusproject/portus/server/model"
)

// CreateUser implements model.Store.
func (s *Store) CreateUser(u model.User, firstIsAdmin bool) (model.User, error) {
	err := s.update("creating user", func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if users.Get([]byte(u.Name)) != nil {
			return model.ErrUserExists
		}
		if firstIsAdmin {
			if k, _ := users.Cursor().First(); k == nil {
				u.Admin = true
			}
		}
		return putJSON(users, []byte(u.Name), u)
	})
	if err != nil {
		return model.User{}, err
	}
	return u, nil
}

// User implements model.Store.
func (s *Store) User(name string) (model.User, error) {
	var u model.User
	err := s.view("reading user", func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketUsers), []byte(name), &u)
	})
	return u, err
}

// Users implements model.Store.
func (s *Store) Users() ([]model.User, error) {
	var users []model.User
	err := s.view("listing users", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(_, v []byte) error {
			var u model.User
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			users = append(users, u)
			return nil
		})
	})
	return users, err
}

// UpdateUser implements model.Store.
func (s *Store) UpdateUser(name string, change func(*model.User) error) (model.User, error) {
	var u model.User
	err := s.update("updating user", func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if err := getJSON(users, []byte(name), &u); err != nil {
			return err
		}
		if err := change(&u); err != nil {
			return &abortError{err}
		}
		u.Name = name
		return putJSON(users, []byte(name), u)
	})
	if err != nil {
		return model.User{}, err
	}
	return u, nil
}
