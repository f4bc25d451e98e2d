package keychain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Servers returns the sorted keys in the index: every server Put stored and
// Remove did not delete. The index may name a server whose item was deleted
// by other means; Get then reports ErrNotFound for it.
func (k *Keychain) Servers() ([]string, error) {
	if err := k.check(); err != nil {
		return nil, opError("listing credentials", err)
	}
	var servers []string
	err := k.withIndexLock("listing credentials", func() error {
		s, _, err := k.readIndex()
		servers = s
		return err
	})
	if err != nil {
		return nil, opError("listing credentials", err)
	}
	return servers, nil
}

// indexPage is the JSON value of one index item.
type indexPage struct {
	Servers []string `json:"servers"`
}

// readIndex returns the servers in the index and how many pages hold them.
func (k *Keychain) readIndex() (servers []string, pages int, err error) {
	for ; ; pages++ {
		var v string
		err := k.call("get", "index page "+strconv.Itoa(pages), func() (err error) {
			v, err = k.backend.Get(IndexService, strconv.Itoa(pages))
			return err
		})
		if errors.Is(err, ErrNotFound) {
			return servers, pages, nil
		}
		if err != nil {
			return nil, 0, err
		}
		var p indexPage
		if err := json.Unmarshal([]byte(v), &p); err != nil {
			return nil, 0, fmt.Errorf("index item %q of service %q is corrupt (%v): delete it, e.g. with `secret-tool clear service %s`, and log in again",
				strconv.Itoa(pages), IndexService, err, IndexService)
		}
		servers = append(servers, p.Servers...)
	}
}

// writeIndex stores servers as pages of at most MaxValueLen bytes and
// deletes the pages beyond them, up to oldPages.
func (k *Keychain) writeIndex(servers []string, oldPages int) error {
	var pages []string
	const overhead = len(`{"servers":[]}`)
	for start := 0; start < len(servers); {
		size := overhead + len(mustJSON(servers[start]))
		end := start + 1
		for end < len(servers) {
			next := size + 1 + len(mustJSON(servers[end])) // comma and quoted name
			if next > MaxValueLen {
				break
			}
			size = next
			end++
		}
		pages = append(pages, mustJSON(indexPage{servers[start:end]}))
		start = end
	}
	for i, p := range pages {
		user := strconv.Itoa(i)
		if err := k.call("set", "index page "+user, func() error { return k.backend.Set(IndexService, user, p) }); err != nil {
			return err
		}
	}
	for i := len(pages); i < oldPages; i++ {
		user := strconv.Itoa(i)
		err := k.call("delete", "index page "+user, func() error { return k.backend.Delete(IndexService, user) })
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // a struct of strings always encodes
	}
	return string(b)
}
