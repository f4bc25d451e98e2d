package etcdstore

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/storetest"
)

var prefixSeq atomic.Int64

// freshPrefix returns a key prefix no other store of the process uses, so
// that one cluster serves every test.
func freshPrefix() string { return fmt.Sprintf("/portus-test-%d/", prefixSeq.Add(1)) }

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testSecretsKey seals the shared secrets of the tests' stores.
var testSecretsKey = bytes.Repeat([]byte{0x5e}, SecretsKeyLen)

// testOptions are Options and whether the store keeps its secrets in
// plaintext, as a deployment older than the secrets key did.
type testOptions struct {
	Options
	plaintext bool
}

// open opens a store on the cluster (its secrets sealed with
// testSecretsKey unless o says otherwise) and closes it when the test ends.
func open(t *testing.T, c *testetcd.Cluster, o Options) *Store {
	t.Helper()
	return openWith(t, c, testOptions{Options: o})
}

func openWith(t *testing.T, c *testetcd.Cluster, o testOptions) *Store {
	t.Helper()
	if o.Endpoints == nil {
		o.Endpoints = c.Endpoints()
	}
	if o.Prefix == "" {
		o.Prefix = freshPrefix()
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	if o.SecretsKey == nil && !o.plaintext {
		o.SecretsKey = testSecretsKey
	}
	s, err := Open(o.Options)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestStore runs everything that a healthy cluster can serve on one
// three-member cluster.
func TestStore(t *testing.T) {
	c := testetcd.Start(t, 3)
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) model.Store { return open(t, c, Options{}) })
	})
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *testetcd.Cluster)
	}{
		{"TwoReplicas", testTwoReplicas},
		{"LastUsedNewestWins", testLastUsedNewestWins},
		{"TinyTimeout", testTinyTimeout},
		{"WatchBreakResync", testWatchBreakResync},
		{"StuckWatch", testStuckWatch},
		{"SecretsSealed", testSecretsSealed},
		{"WrongSecretsKey", testWrongSecretsKey},
		{"PlaintextSecretsMigrate", testPlaintextSecretsMigrate},
		{"AuditMigration", testAuditMigration},
		{"Schema", testSchema},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) })
	}
}
