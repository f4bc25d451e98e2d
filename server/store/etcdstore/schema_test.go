package etcdstore

import (
	"context"
	"strings"
	"testing"

	"github.com/portusproject/portus/server/internal/testetcd"
)

// testSchema: a new prefix gets the version; keys of a newer version, or
// a version that is not one, are refused at Open, before any change.
func testSchema(t *testing.T, c *testetcd.Cluster) {
	prefix := freshPrefix()
	s := open(t, c, Options{Prefix: prefix})
	ctx := context.Background()
	resp, err := s.cli.Get(ctx, s.k.schema())
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "2" {
		t.Fatalf("schema version after Open: %v, %v; want 2", resp, err)
	}
	for value, want := range map[string]string{
		"3":    "schema version 3, but this portus knows versions up to 2",
		"junk": `holds "junk", not a schema version`,
	} {
		if _, err := s.cli.Put(ctx, s.k.schema(), value); err != nil {
			t.Fatal(err)
		}
		_, err := Open(Options{Endpoints: c.Endpoints(), Prefix: prefix, Logger: quietLogger(), SecretsKey: testSecretsKey})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open with schema version %q: %v; want %q", value, err, want)
		}
		if resp, _ := s.cli.Get(ctx, s.k.schema()); string(resp.Kvs[0].Value) != value {
			t.Errorf("the refused Open changed the version to %s", resp.Kvs[0].Value)
		}
	}
}
