package etcdstore

import (
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// SchemaVersion is the layout under the prefix that this code reads and
// writes, recorded at P meta/schema-version (decimal):
//
//	1  the audit log as one log, no per-user index
//	2  two logs indexed per user (audit/seq "layout":2)
//
// Version 1 deployments recorded no version; migrateAudit upgrades them.
// The same numbers as boltstore.SchemaVersion.
const SchemaVersion = 2

// checkSchema refuses keys that a newer Portus wrote, before anything is
// migrated, and returns the recorded version (0: none) and its revision.
func (s *Store) checkSchema() (uint64, int64, error) {
	const op = "reading the schema version"
	resp, err := s.get(op, s.k.schema())
	if err != nil || len(resp.Kvs) == 0 {
		return 0, 0, err
	}
	kv := resp.Kvs[0]
	v, err := strconv.ParseUint(string(kv.Value), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%s holds %q, not a schema version: it was not written by Portus; remove it or fix --etcd-prefix", s.k.schema(), kv.Value)
	}
	if v > SchemaVersion {
		return 0, 0, fmt.Errorf("the keys under %s have schema version %d, but this portus knows versions up to %d: "+
			"a newer Portus release wrote them. Run that release or a newer one on every replica; to go back, "+
			"restore the etcd snapshot taken before the upgrade", s.k.prefix, v, SchemaVersion)
	}
	return v, kv.ModRevision, nil
}

// recordSchema writes SchemaVersion once the migrations are done, unless
// another replica changed the key since checkSchema read it at modRev.
func (s *Store) recordSchema(found uint64, modRev int64) error {
	if found == SchemaVersion {
		return nil
	}
	_, err := s.txn("recording the schema version", []clientv3.Cmp{unchanged(s.k.schema(), modRev)},
		[]clientv3.Op{clientv3.OpPut(s.k.schema(), strconv.Itoa(SchemaVersion))}, nil)
	return err
}
