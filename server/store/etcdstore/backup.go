package etcdstore

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// BackupFormat names the format Backup writes: JSON lines, a header
// {"format":BackupFormat,"prefix":P,"revision":R} and then one
// {"key":K,"value":BASE64} per key under the prefix at revision R, K
// without the prefix. Shared secrets are left out, as bbolt's backup
// leaves out the pepper file.
const BackupFormat = "portus-etcd-backup-1"

// Backup implements model.Store: every key of the deployment (but the
// shared secrets) at one revision, read in pages.
func (s *Store) Backup(w io.Writer) (int64, error) {
	const op = "backing up"
	const page = 1000
	cw := &countingWriter{w: w}
	bw := bufio.NewWriter(cw)
	enc := json.NewEncoder(bw)
	end := clientv3.GetPrefixRangeEnd(s.k.prefix)
	key := s.k.prefix
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(page)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.get(op, key, opts...)
		if err != nil {
			return cw.n, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
			if err := enc.Encode(map[string]any{"format": BackupFormat, "prefix": s.k.prefix, "revision": rev}); err != nil {
				return cw.n, err
			}
		}
		for _, kv := range resp.Kvs {
			if s.k.isSecret(string(kv.Key)) {
				continue
			}
			rec := struct {
				Key   string `json:"key"`
				Value []byte `json:"value"`
			}{strings.TrimPrefix(string(kv.Key), s.k.prefix), kv.Value}
			if err := enc.Encode(rec); err != nil {
				return cw.n, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
