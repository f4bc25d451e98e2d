// Package etcdstore is the replicated store of Portus: the model.Store
// contract on an etcd cluster, so that several `portus serve` processes
// share one state. It is the only package that imports the etcd client.
//
// Layout under the prefix P (default "/portus/"); names in keys are
// path-escaped, values are JSON unless said otherwise:
//
//	P auth/users/NAME           model.User
//	P auth/tokens/OWNER/NAME    model.Token (one key per owner and name:
//	                            unique names are CreateRevision == 0)
//	P auth/epoch                empty; rewritten by every write under auth/
//	                            (authTxn: what the caches wait for)
//	P counts/OWNER              decimal count of OWNER's application tokens
//	P counts-login/OWNER        decimal count of OWNER's login tokens
//	P meta/first-user           exists once a user does
//	P meta/schema-version       SchemaVersion, decimal (schema.go)
//	P audit/seq                 {"last":N,"layout":2,"history":H,
//	                            "failures":F}: the newest ID of both logs
//	                            and how many entries each holds
//	P audit/log/%020d           model.Activity (the history)
//	P audit/failures/%020d      model.Activity (the failure log)
//	P audit/users/USER/%020d    "h" or "f": USER's entries, as actor or
//	                            subject, and the log that holds each
//	P sessions/HEX(ID)          model.Session
//	P user-sessions/USER/HEX    empty (the index of a user's sessions)
//	P secrets/NAME              the secret, sealed with AES-256-GCM under
//	                            Options.SecretsKey (seal.go)
//
// Every model.Store method is one etcd transaction (Txn with If/Then/Else)
// whose comparisons carry its invariants: a write that read something
// compares that key's ModRevision, so no read-modify-write happens outside
// a transaction; on a lost race it reads again and retries. The per-owner
// token limit compares the count key in the same Txn as the insert.
//
// Each Store keeps an in-memory cache of everything under P auth/ (users
// and tokens), loaded with one read at a revision and kept current by a
// Watch from the next revision, so TokenByHash — every docker command —
// makes no round trip when the cache is warm. A revocation or a disabled
// user written by any replica reaches every replica's cache within
// milliseconds. When the watch breaks (compaction, a closed stream) or
// falls behind what etcd confirms, the cache is known to be stale: reads
// that depend on it fail with model.ErrUnavailable until a full reload has
// resynchronised it. While etcd cannot be reached at all (an election, a
// lost quorum) nothing is known to be stale and the cache keeps serving.
//
// Every etcd call has a timeout. A write whose outcome is unknown (timeout,
// leader lost mid-call) is an error wrapping model.ErrUnavailable, never a
// success.
package etcdstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portusproject/portus/server/model"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// DefaultPrefix is where a Portus deployment keeps its keys.
const DefaultPrefix = "/portus/"

// Options configure Open.
type Options struct {
	// Endpoints are the cluster members' client addresses, HOST:PORT.
	Endpoints []string
	// Prefix starts every key (default DefaultPrefix). Deployments that
	// share a cluster use different prefixes.
	Prefix string
	// TLS, when not nil, secures the connection (see TLSConfig).
	TLS *tls.Config
	// DialTimeout bounds connecting (default 5 s).
	DialTimeout time.Duration
	// RequestTimeout bounds every etcd call (default 5 s).
	RequestTimeout time.Duration
	// CheckInterval is how often the cache confirms that it is as new as
	// etcd (default 1 s), and LagLimit how long it may stay behind before
	// it counts as stale and is reloaded (default 3 s).
	CheckInterval time.Duration
	LagLimit      time.Duration
	// Logger receives the cache's state changes (default slog.Default()).
	Logger *slog.Logger
	// SecretsKey (SecretsKeyLen bytes, see ReadSecretsKey) encrypts the
	// shared secrets; SecretsKeyFile names its file in errors. Nil stores
	// them in plaintext, as portus did before: only for tests. With a key,
	// Open encrypts plaintext secrets it finds and fails if the key does
	// not decrypt the stored ones.
	SecretsKey     []byte
	SecretsKeyFile string
	// Username and Password sign in to etcd when its auth is on.
	Username, Password string
}

// Store is a model.Store on etcd.
type Store struct {
	cli     *clientv3.Client
	k       keys
	timeout time.Duration
	lagMax  time.Duration
	check   time.Duration
	log     *slog.Logger
	cache   *cache
	seal    sealer

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	watchMu     sync.Mutex
	watchCancel context.CancelFunc

	// beforeReload, if set (tests), runs before each resynchronisation;
	// dropEvents (tests) makes the watch lose events, as a stuck stream
	// would.
	beforeReload atomic.Pointer[func()]
	dropEvents   atomic.Bool
}

var _ model.Store = (*Store)(nil)

var errClosed = errors.New("store is closed")

// setDefaults fills the zero options with their documented defaults.
func (o *Options) setDefaults() {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = time.Second
	}
	if o.LagLimit <= 0 {
		o.LagLimit = 3 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Open connects to the cluster, loads the cache and starts watching. It
// fails, wrapping model.ErrUnavailable, if the cluster does not answer
// within the timeouts.
func Open(o Options) (*Store, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	o.setDefaults()
	seal, err := newSealer(o.SecretsKey, o.SecretsKeyFile)
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: o.DialTimeout,
		TLS:         o.TLS,
		Username:    o.Username,
		Password:    o.Password,
		// Our own log says what matters (cache state); the client's
		// zap output would be a second, unstructured-for-us stream.
		Logger: zap.NewNop(),
		// Keep the connection alive through idle periods and notice
		// a dead member quickly.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		// Reconnect to a member that is back within a second or two,
		// not gRPC's default of up to two minutes.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: o.DialTimeout,
		})},
	})
	if err != nil {
		return nil, model.Unavailable("connecting to etcd", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		cli:     cli,
		k:       keys{prefix: o.Prefix},
		timeout: o.RequestTimeout,
		lagMax:  o.LagLimit,
		check:   o.CheckInterval,
		log:     o.Logger,
		cache:   newCache(o.Prefix),
		seal:    seal,
		ctx:     ctx,
		cancel:  cancel,
	}
	schema, schemaRev, err := s.checkSchema()
	if err == nil {
		err = s.reload()
	}
	if err == nil {
		err = s.migrateAudit()
	}
	if err == nil {
		err = s.recordSchema(schema, schemaRev)
	}
	if err != nil {
		cancel()
		cli.Close()
		return nil, fmt.Errorf("loading from etcd at %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	if err := s.sealSecrets(); err != nil {
		cancel()
		cli.Close()
		return nil, err
	}
	s.wg.Add(2)
	go s.watchLoop()
	go s.checkLoop()
	return s, nil
}

// Close stops the watch and closes the connection. Methods called
// afterwards fail with model.ErrUnavailable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cancel()
	s.cache.close()
	s.wg.Wait()
	return s.cli.Close()
}

// call returns a context for one etcd call, or an error once the store is
// closed.
func (s *Store) call(op string) (context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return nil, nil, model.Unavailable(op, errClosed)
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	return ctx, cancel, nil
}

// txn runs one transaction that writes nothing under auth/ (sessions, the
// audit log, secrets, reads). It refuses one that does: such a write must go
// through authTxn, so that no write path can leave out the epoch.
func (s *Store) txn(op string, cmps []clientv3.Cmp, then, els []clientv3.Op) (*clientv3.TxnResponse, error) {
	if key, ok := s.authWrite(then, els); ok {
		return nil, fmt.Errorf("%s: writing %s outside authTxn would not move the auth epoch", op, key)
	}
	return s.commit(op, cmps, then, els)
}

// authTxn runs a transaction that writes users or tokens: keys under auth/,
// which every replica caches. Its then branch also rewrites the epoch key,
// whose ModRevision is thus the newest write under auth/: barrier and
// checkLoop wait for the cache to reach it. A write without it would go
// unseen by them, and a token just created on one replica could be
// ErrNotFound on another. When the transaction succeeds, authTxn waits
// until this replica's cache holds it (synced).
func (s *Store) authTxn(op string, cmps []clientv3.Cmp, then, els []clientv3.Op) (*clientv3.TxnResponse, error) {
	then = append(slices.Clip(then), clientv3.OpPut(s.k.epoch(), ""))
	resp, err := s.commit(op, cmps, then, els)
	if err != nil {
		return nil, err
	}
	if resp.Succeeded {
		s.synced(resp.Header.Revision)
	}
	return resp, nil
}

// authWrite returns the first key under auth/ that the operations, nested
// transactions included, put or delete. (DeleteAll's range starts at the
// prefix, before auth/, and is followed by an authTxn.)
func (s *Store) authWrite(branches ...[]clientv3.Op) (string, bool) {
	for _, ops := range branches {
		for _, o := range ops {
			if o.IsTxn() {
				_, then, els := o.Txn()
				if key, ok := s.authWrite(then, els); ok {
					return key, true
				}
				continue
			}
			if key := string(o.KeyBytes()); (o.IsPut() || o.IsDelete()) && strings.HasPrefix(key, s.k.authPrefix()) {
				return key, true
			}
		}
	}
	return "", false
}

// commit runs one transaction with a timeout. Any error — a timeout or a
// lost leader included, after which the outcome is unknown — is returned
// as model.ErrUnavailable.
func (s *Store) commit(op string, cmps []clientv3.Cmp, then, els []clientv3.Op) (*clientv3.TxnResponse, error) {
	ctx, cancel, err := s.call(op)
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
	if err != nil {
		return nil, model.Unavailable(op, err)
	}
	return resp, nil
}

// read runs read-only operations as one transaction, so that they see one
// revision.
func (s *Store) read(op string, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	return s.txn(op, nil, ops, nil)
}

// get runs one Get with a timeout.
func (s *Store) get(op, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	ctx, cancel, err := s.call(op)
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := s.cli.Get(ctx, key, opts...)
	if err != nil {
		return nil, model.Unavailable(op, err)
	}
	return resp, nil
}

// maxAttempts bounds the optimistic retries of one method. Each failed
// attempt means another writer succeeded, so running out takes a storm.
const maxAttempts = 200

var errContention = errors.New("too many concurrent writers; try again")

// retry runs attempt until it reports done or fails.
func retry(op string, attempt func() (done bool, err error)) error {
	for range maxAttempts {
		done, err := attempt()
		if err != nil || done {
			return err
		}
	}
	return model.Unavailable(op, errContention)
}

// synced waits, within the request timeout, until the cache holds the
// write at rev, so that a caller reads its own writes from the cache. The
// write succeeded either way: a cache that does not catch up is detected as
// stale by the checker and refuses to serve until it has reloaded.
func (s *Store) synced(rev int64) {
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	s.cache.waitFor(ctx, rev)
}

// barrier waits until the cache holds every write under auth/ that etcd
// has committed now. It costs one linearizable read of the epoch key.
func (s *Store) barrier(op string) error {
	resp, err := s.get(op, s.k.epoch())
	if err != nil {
		return err
	}
	var rev int64
	if len(resp.Kvs) > 0 {
		rev = resp.Kvs[0].ModRevision
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	defer cancel()
	if !s.cache.waitFor(ctx, rev) {
		return model.Unavailable(op, fmt.Errorf("the cache has not caught up with revision %d", rev))
	}
	return nil
}

// DeleteAll removes every key of the deployment, shared secrets included,
// in one transaction: for `portus migrate --force`. Other processes on the
// prefix see it through their watch; stop them first all the same.
func (s *Store) DeleteAll() error {
	const op = "emptying the store"
	if _, err := s.txn(op, nil, []clientv3.Op{clientv3.OpDelete(s.k.prefix, clientv3.WithPrefix())}, nil); err != nil {
		return err
	}
	// A write under auth/ after the deletion, for the cache to wait on.
	_, err := s.authTxn(op, nil, nil, nil)
	return err
}
