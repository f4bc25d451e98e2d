// Package testetcd runs real etcd clusters for tests: Debian's etcd-server
// binary (`etcd`), members on 127.0.0.1 with free ports and fresh data
// directories, tuned to elect a leader within milliseconds
// (--heartbeat-interval=10 --election-timeout=100). Members are stopped
// with SIGKILL by PID, as a crash would stop them, and can be restarted on
// their data.
//
// When etcd is not installed a test skips, or fails when the CI variable
// is set, so that nothing is silently left out where it must run;
// scripts/install-deps installs it.
package testetcd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Binary is the etcd server command.
const Binary = "etcd"

// Require returns the path of the etcd binary, skipping the test when it is
// missing (failing it when CI is set).
func Require(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath(Binary)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; scripts/install-deps installs Debian's etcd-server", Binary)
	}
	t.Skipf("%s is not installed (Debian's etcd-server; run scripts/install-deps)", Binary)
	return ""
}

// Cluster is a running etcd cluster.
type Cluster struct {
	Members []*Member
	exe     string
}

// Member is one etcd process.
type Member struct {
	Name      string
	ClientURL string // http://127.0.0.1:PORT
	PeerURL   string
	Dir       string // data directory
	initial   string // --initial-cluster
	token     string

	mu   sync.Mutex
	proc *testutil.Process // nil before the first launch
	log  *testutil.LockedBuffer
}

// Start runs an n-member cluster with data directories in t.TempDir(),
// waits until it has a leader, and kills it when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	exe := Require(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c, err := start(exe, t.TempDir(), n)
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					for _, m := range c.Members {
						t.Logf("etcd member %s log (tail):\n%s", m.Name, m.log.Tail(4000))
					}
				}
				c.Stop()
			})
			return c
		}
		lastErr = err // most likely a port taken between probe and bind
	}
	t.Fatalf("starting a %d-member etcd cluster: %v", n, lastErr)
	return nil
}

func start(exe, dir string, n int) (*Cluster, error) {
	ports, err := testutil.FreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{exe: exe}
	token := fmt.Sprintf("portus-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	var initial []string
	for i := range n {
		m := &Member{
			Name:      fmt.Sprintf("m%d", i+1),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			Dir:       filepath.Join(dir, fmt.Sprintf("m%d", i+1)),
			token:     token,
		}
		initial = append(initial, m.Name+"="+m.PeerURL)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.initial = strings.Join(initial, ",")
		if err := c.launch(m); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if err := c.WaitHealthy(20 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) launch(m *Member) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.log == nil {
		m.log = &testutil.LockedBuffer{}
	}
	cmd := exec.Command(c.exe,
		"--name", m.Name,
		"--data-dir", m.Dir,
		"--listen-client-urls", m.ClientURL,
		"--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", m.initial,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", m.token,
		"--heartbeat-interval=10",
		"--election-timeout=100",
		"--logger=zap", "--log-outputs=stderr", "--log-level=warn",
	)
	p, err := testutil.Start(cmd, m.log)
	if err != nil {
		return fmt.Errorf("etcd member %s: %w", m.Name, err)
	}
	m.proc = p
	return nil
}

// Endpoints returns the members' client addresses, HOST:PORT.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.Endpoint()
	}
	return eps
}

// Spec is the cluster as portus's --store flag takes it.
func (c *Cluster) Spec() string { return "etcd://" + strings.Join(c.Endpoints(), ",") }

// Endpoint is the member's client address, HOST:PORT.
func (m *Member) Endpoint() string { return strings.TrimPrefix(m.ClientURL, "http://") }

// PID is the member's process id, 0 when it is not running.
func (m *Member) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil || m.proc.Exited() {
		return 0
	}
	return m.proc.PID()
}

// Kill stops member i with SIGKILL by PID and waits until it is gone.
func (c *Cluster) Kill(i int) {
	m := c.Members[i]
	m.mu.Lock()
	p := m.proc
	m.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

// Restart starts a killed member again on its data directory and ports.
func (c *Cluster) Restart(i int) error {
	m := c.Members[i]
	if m.PID() != 0 {
		return fmt.Errorf("member %s is still running", m.Name)
	}
	return c.launch(m)
}

// Stop kills every member.
func (c *Cluster) Stop() {
	for i := range c.Members {
		c.Kill(i)
	}
}

// WaitHealthy waits until every running member answers /health with a
// leader.
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for _, m := range c.Members {
		for {
			if m.PID() == 0 {
				m.mu.Lock()
				started := m.proc != nil
				m.mu.Unlock()
				if started {
					return fmt.Errorf("etcd member %s exited: %s", m.Name, m.log.Tail(2000))
				}
				break
			}
			resp, err := hc.Get(m.ClientURL + "/health")
			if err == nil {
				var body bytes.Buffer
				body.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && strings.Contains(body.String(), `"true"`) {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("etcd member %s not healthy after %v: %s", m.Name, timeout, m.log.Tail(2000))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// Client returns a client of the whole cluster, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Leader returns the index of the current leader, asking each running
// member's status (the Maintenance Status RPC).
func (c *Cluster) Leader(cli *clientv3.Client) (int, error) {
	ids := map[uint64]int{}
	var (
		leader uint64
		errs   []error
	)
	for i, m := range c.Members {
		if m.PID() == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := cli.Status(ctx, m.Endpoint())
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids[st.Header.MemberId] = i
		if st.Leader != 0 {
			leader = st.Leader
		}
	}
	if i, ok := ids[leader]; ok && leader != 0 {
		return i, nil
	}
	return -1, fmt.Errorf("no leader among the running members: %w", errors.Join(errs...))
}
