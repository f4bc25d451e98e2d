package etcdstore

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/model"
)

// enableAuth turns on etcd's auth with a root user and a user name, with
// password, that may read and write only under prefix.
func enableAuth(t *testing.T, c *testetcd.Cluster, name, password, prefix string) {
	t.Helper()
	cli := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "root-password"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, name); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, name, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, name, password); return err },
		func() error { _, err := cli.UserGrantRole(ctx, name, name); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("enabling etcd auth, step %d: %v", i+1, err)
		}
	}
}

// TestAuth: with etcd's auth on, the store works as a user with a role on
// its prefix, and refuses to open with a wrong password or none.
func TestAuth(t *testing.T) {
	c := testetcd.Start(t, 1)
	const prefix = "/portus-auth/"
	enableAuth(t, c, "portus", "right-password", prefix)

	s := open(t, c, Options{Prefix: prefix, Username: "portus", Password: "right-password"})
	if _, err := s.SharedSecret(model.SecretPepper, func() ([]byte, error) { return []byte("pepper-of-the-auth-test-32-bytes"), nil }); err != nil {
		t.Fatalf("SharedSecret as portus: %v", err)
	}
	if _, err := s.CreateUser(model.User{Name: "alice", PasswordHash: "x", CreatedAt: time.Now()}, true); err != nil {
		t.Fatalf("CreateUser as portus: %v", err)
	}
	again := open(t, c, Options{Prefix: prefix, Username: "portus", Password: "right-password"})
	if u, err := again.User("alice"); err != nil || u.Name != "alice" {
		t.Errorf("second replica reads alice: %+v, %v", u, err)
	}

	for _, tc := range []struct{ name, user, password, says string }{
		{"wrong password", "portus", "wrong-password", "authentication failed"},
		{"no credentials", "", "", "user name is empty"},
	} {
		o := Options{Endpoints: c.Endpoints(), Prefix: prefix, Logger: quietLogger(), SecretsKey: testSecretsKey,
			Username: tc.user, Password: tc.password, DialTimeout: 2 * time.Second, RequestTimeout: 2 * time.Second}
		st, err := Open(o)
		if err == nil {
			st.Close()
			t.Errorf("%s: Open succeeded", tc.name)
			continue
		}
		if strings.Contains(err.Error(), "wrong-password") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: error %q shows the password or does not say %q", tc.name, err, tc.says)
		}
	}
}
