package e2e

// Several replicas: two `portus serve` processes on one real three-member
// etcd cluster (Debian's etcd-server), as an operator would run them behind
// a load balancer.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
)

// etcdCluster is a real etcd cluster on 127.0.0.1, members stopped with
// SIGKILL by PID. (server/internal/testetcd does the same for the server's
// packages; internal packages are out of this module directory's reach.)
type etcdCluster struct {
	exe     string
	members []*etcdMember
	// secretsKey is the --etcd-secrets-key-file every replica shares.
	secretsKey string
}

type etcdMember struct {
	name, clientURL, peerURL, dir, initial, token string
	proc                                          *testutil.Process // nil before the first launch
	log                                           *testutil.LockedBuffer
}

// startEtcd starts an n-member cluster with fresh data directories and
// waits until it has a leader.
func startEtcd(t *testing.T, n int) *etcdCluster {
	t.Helper()
	c := &etcdCluster{exe: requireTool(t, "etcd")}
	dir := t.TempDir()
	c.secretsKey = filepath.Join(dir, "etcd-secrets.key")
	key := make([]byte, 32) // as `head -c 32 /dev/urandom` makes it
	rand.Read(key)
	if err := os.WriteFile(c.secretsKey, key, 0o600); err != nil {
		t.Fatal(err)
	}
	token := fmt.Sprintf("portus-e2e-%d", time.Now().UnixNano())
	var initial []string
	// All ports at once: separate picks could hand the same port out twice.
	ports, err := testutil.FreePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := &etcdMember{
			name:      fmt.Sprintf("m%d", i+1),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			dir:       filepath.Join(dir, fmt.Sprintf("m%d", i+1)),
			token:     token,
			log:       &testutil.LockedBuffer{},
		}
		initial = append(initial, m.name+"="+m.peerURL)
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.initial = strings.Join(initial, ",")
		c.launch(t, m)
	}
	t.Cleanup(func() {
		for i := range c.members {
			c.kill(i)
		}
		if t.Failed() {
			for _, m := range c.members {
				t.Logf("etcd %s log:\n%s", m.name, m.log.Tail(3000))
			}
		}
	})
	c.waitHealthy(t)
	return c
}

func (c *etcdCluster) launch(t *testing.T, m *etcdMember) {
	t.Helper()
	cmd := exec.Command(c.exe, "--name", m.name, "--data-dir", m.dir,
		"--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster", m.initial, "--initial-cluster-state", "new", "--initial-cluster-token", m.token,
		"--heartbeat-interval=10", "--election-timeout=100",
		"--logger=zap", "--log-outputs=stderr", "--log-level=warn")
	p, err := testutil.Start(cmd, m.log)
	if err != nil {
		t.Fatal(err)
	}
	m.proc = p
}

func (c *etcdCluster) spec() string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, strings.TrimPrefix(m.clientURL, "http://"))
	}
	return "etcd://" + strings.Join(eps, ",")
}

func (m *etcdMember) running() bool {
	return m.proc != nil && !m.proc.Exited()
}

// kill sends SIGKILL to member i's PID and waits until it is gone.
func (c *etcdCluster) kill(i int) {
	m := c.members[i]
	if m.running() {
		m.proc.Kill()
	}
}

// restart starts a killed member again on its data directory.
func (c *etcdCluster) restart(t *testing.T, i int) { c.launch(t, c.members[i]) }

func (c *etcdCluster) waitHealthy(t *testing.T) {
	t.Helper()
	for _, m := range c.members {
		if !m.running() {
			continue
		}
		waitFor(t, m.proc.Done(), func() bool {
			resp, err := http.Get(m.clientURL + "/health")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"true"`))
		}, "etcd "+m.name+" to be healthy")
	}
}

// memberStatus asks a member's status endpoint (the gRPC gateway's
// Maintenance.Status) for its own ID and the leader's.
func memberStatus(clientURL string) (id, leader string, err error) {
	hc := &http.Client{Timeout: time.Second}
	resp, err := hc.Post(clientURL+"/v3/maintenance/status", "application/json", strings.NewReader("{}"))
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var st struct {
		Header struct {
			MemberID string `json:"member_id"`
		} `json:"header"`
		Leader string `json:"leader"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return "", "", err
	}
	return st.Header.MemberID, st.Leader, nil
}

// leader returns the index of the leader, found through the members'
// status endpoints.
func (c *etcdCluster) leader(t *testing.T) int {
	t.Helper()
	ids := map[string]int{}
	var leader string
	for i, m := range c.members {
		if !m.running() {
			continue
		}
		id, l, err := memberStatus(m.clientURL)
		if err != nil {
			continue
		}
		ids[id] = i
		if l != "" && l != "0" {
			leader = l
		}
	}
	i, ok := ids[leader]
	if !ok {
		t.Fatalf("no leader among the etcd members (statuses: %v, leader %q)", ids, leader)
	}
	return i
}

// startReplica runs `portus serve` on the cluster with its own data
// directory (its admin socket).
func startReplica(t *testing.T, c *etcdCluster, data string, extra ...string) *portusServer {
	t.Helper()
	return startPortusOn(t, data, append([]string{"--store", c.spec(), "--etcd-secrets-key-file", c.secretsKey, "--flush-interval", "1s"}, extra...)...)
}

// admin is an HTTP client of the replica's admin socket (the trusted JSON
// API the admin CLI speaks).
func (s *portusServer) admin() *http.Client {
	sock := filepath.Join(s.Data, "admin.sock")
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}
}

// createVia creates an application token of user through hc (the admin
// socket) and returns the status and, on 201, the token.
func createVia(hc *http.Client, user, name string) (int, apitypes.CreatedToken, error) {
	body, _ := json.Marshal(apitypes.CreateTokenRequest{Name: name, Scope: "pull"})
	resp, err := hc.Post("http://portus/api/v1/users/"+url.PathEscape(user)+"/tokens", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, apitypes.CreatedToken{}, err
	}
	defer resp.Body.Close()
	var ct apitypes.CreatedToken
	if resp.StatusCode == http.StatusCreated {
		if err := json.NewDecoder(resp.Body).Decode(&ct); err != nil {
			return resp.StatusCode, ct, err
		}
	}
	return resp.StatusCode, ct, nil
}

var tokenClient = &http.Client{Timeout: 5 * time.Second}

// registryToken asks s for a registry JWT with user:secret and returns the
// status and the JWT.
func (s *portusServer) registryToken(user, secret string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v2/token?service=registry&scope="+url.QueryEscape("repository:"+user+"/app:pull"), nil)
	req.SetBasicAuth(user, secret)
	resp, err := tokenClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Token
}

// TestReplicas: a token created on one replica works on the other at once;
// revoked on one, it is refused by the other within a second; concurrent
// creations split across the replicas respect the per-user limit; both
// replicas' JWTs verify with one certificate bundle.
func TestReplicas(t *testing.T) {
	c := startEtcd(t, 3)
	a := startReplica(t, c, filepath.Join(t.TempDir(), "a"))
	b := startReplica(t, c, filepath.Join(t.TempDir(), "b"))

	var tok string
	phase(t, "a token made on A works on B", func(t *testing.T) {
		// The admin CLI reaches replica A over A's socket.
		a.createUser(t, "alice", "alice-password-1", true)
		tok = a.createToken(t, "alice", "ci", "pull")
		if st, _ := b.registryToken("alice", tok); st != http.StatusOK {
			t.Fatalf("a token created on A, at once on B: /v2/token = %d, want 200", st)
		}
	})
	phase(t, "revoked on B is refused on A", func(t *testing.T) {
		// Revoked on B (the token revokes itself), refused on A within 1 s.
		req, _ := http.NewRequest(http.MethodDelete, b.URL+"/api/v1/tokens/current", nil)
		req.SetBasicAuth("alice", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("revoking on B: %s", resp.Status)
		}
		revoked := time.Now()
		for {
			st, _ := a.registryToken("alice", tok)
			if st == http.StatusUnauthorized {
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("a token revoked on B still works on A after 1 s (status %d)", st)
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Logf("revoked on B, refused on A after %v", time.Since(revoked).Round(time.Millisecond))
	})
	phase(t, "one bundle verifies both", func(t *testing.T) {
		// Both replicas sign with the shared key: one bundle verifies both.
		bundle := filepath.Join(t.TempDir(), "bundle.pem")
		a.portus(t, "", "registry-config", "--store", c.spec(), "--etcd-secrets-key-file", c.secretsKey, "--bundle", bundle)
		certPEM, err := os.ReadFile(bundle)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(certPEM)
		if block == nil {
			t.Fatalf("bundle holds no certificate: %s", certPEM)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		tok2 := a.createToken(t, "alice", "laptop", "pull")
		for name, s := range map[string]*portusServer{"A": a, "B": b} {
			st, jwtString := s.registryToken("alice", tok2)
			if st != http.StatusOK {
				t.Fatalf("replica %s: /v2/token = %d", name, st)
			}
			if _, err := jwt.Parse(jwtString, func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
				jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("registry")); err != nil {
				t.Errorf("replica %s's JWT does not verify with the bundle: %v", name, err)
			}
		}
	})
	phase(t, "concurrent creations keep the limit", func(t *testing.T) {
		// 50 concurrent creations by one user, split across both replicas'
		// public APIs (HTTP Basic with the password): exactly the limit wins.
		a.createUser(t, "carol", "carol-password-1", false)
		const n, limit = 50, 5
		var (
			wg               sync.WaitGroup
			created, refused atomic.Int32
			other            sync.Map
		)
		for i := range n {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				body, _ := json.Marshal(apitypes.CreateTokenRequest{Name: fmt.Sprintf("t%02d", i)})
				var resp *http.Response
				// Password checks of one user run one at a time; a check that
				// waits longer than its turn allows is told to come back
				// (429, Retry-After), as a script would: on a busy machine
				// 50 argon2 runs in a row can take that long.
				for attempt := 0; ; attempt++ {
					req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/tokens", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.SetBasicAuth("carol", "carol-password-1")
					var err error
					if resp, err = http.DefaultClient.Do(req); err != nil {
						other.Store(i, err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusTooManyRequests || attempt == 5 {
						break
					}
					wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
					time.Sleep(time.Duration(max(wait, 1)) * time.Second)
				}
				switch st := resp.StatusCode; st {
				case http.StatusCreated:
					created.Add(1)
				case http.StatusUnprocessableEntity:
					refused.Add(1)
				default:
					other.Store(i, st)
				}
			})
		}
		wg.Wait()
		other.Range(func(k, v any) bool { t.Errorf("creation %v: status %v", k, v); return true })
		if created.Load() != limit || refused.Load() != n-limit {
			t.Errorf("%d concurrent creations across two replicas: %d created, %d refused; want %d and %d", n, created.Load(), refused.Load(), limit, n-limit)
		}
		var list []apitypes.Token
		if st := b.apiJSON(t, http.MethodGet, "/api/v1/tokens", "carol", "carol-password-1", nil, &list); st != http.StatusOK || len(list) != limit {
			t.Errorf("carol's tokens on B: %d, status %d; want %d", len(list), st, limit)
		}
	})
}

// TestReplicasFaults: under a stream of creations across both replicas,
// SIGKILL the etcd leader, then one replica; restart both. Every creation
// that got a 201 works afterwards on both replicas, and /v2/token keeps
// answering from the caches while etcd elects a new leader.
func TestReplicasFaults(t *testing.T) {
	c := startEtcd(t, 3)
	a := startReplica(t, c, filepath.Join(t.TempDir(), "a"), "--max-tokens", "100000")
	b := startReplica(t, c, filepath.Join(t.TempDir(), "b"), "--max-tokens", "100000")
	a.createUser(t, "dave", "dave-password-1", false)
	known := a.createToken(t, "dave", "known", "pull")

	type ack struct{ id, token string }
	var (
		mu      sync.Mutex
		acked   []ack
		failed  atomic.Int32
		seq     atomic.Int32
		stop    atomic.Bool
		wg      sync.WaitGroup
		aDead   atomic.Bool
		killAt  atomic.Int64 // UnixNano of the leader's SIGKILL
		firstOK atomic.Int64 // first 201 to a request sent after it
	)
	clients := []*http.Client{a.admin(), b.admin()}
	for w := range 6 {
		wg.Go(func() {
			hc := clients[w%2]
			for !stop.Load() {
				if w%2 == 0 && aDead.Load() {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				started := time.Now().UnixNano()
				st, ct, err := createVia(hc, "dave", fmt.Sprintf("s%05d", seq.Add(1)))
				if err != nil || st != http.StatusCreated {
					failed.Add(1)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				mu.Lock()
				acked = append(acked, ack{ct.ID, ct.Token})
				mu.Unlock()
				if k := killAt.Load(); k != 0 && started > k {
					firstOK.CompareAndSwap(0, time.Now().UnixNano())
				}
			}
		})
	}

	// /v2/token on both replicas with a known token, all along.
	type probe struct {
		at, end time.Time // when the request started and ended
		status  int
		a       bool
	}
	var (
		probes []probe
		pmu    sync.Mutex
	)
	wg.Go(func() {
		for !stop.Load() {
			for i, s := range []*portusServer{a, b} {
				if i == 0 && aDead.Load() {
					continue
				}
				at := time.Now()
				st, _ := s.registryToken("dave", known)
				pmu.Lock()
				probes = append(probes, probe{at, time.Now(), st, i == 0})
				pmu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	time.Sleep(700 * time.Millisecond)
	leader := c.leader(t)
	killed := time.Now()
	killAt.Store(killed.UnixNano())
	c.kill(leader)
	t.Logf("SIGKILLed the etcd leader %s", c.members[leader].name)
	time.Sleep(400 * time.Millisecond)
	replicaKilled := time.Now()
	aDead.Store(true)
	a.kill()
	time.Sleep(600 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	// Restart both.
	c.restart(t, leader)
	c.waitHealthy(t)
	a2 := startReplica(t, c, a.Data, "--max-tokens", "100000")

	var (
		lost, bad, duringElection int
		list                      []apitypes.Token
	)
	phase(t, "acknowledged tokens work on both replicas", func(t *testing.T) {
		// Every 201 works on both replicas.
		for _, k := range acked {
			for _, s := range []*portusServer{a2, b} {
				if st, _ := s.registryToken("dave", k.token); st != http.StatusOK {
					lost++
					t.Errorf("token %s acknowledged with 201: /v2/token on %s = %d", k.id, s.URL, st)
				}
			}
		}
	})
	phase(t, "acknowledged tokens are listed", func(t *testing.T) {
		resp, err := b.admin().Get("http://portus/api/v1/users/dave/tokens")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		stored := map[string]bool{}
		for _, tk := range list {
			stored[tk.ID] = true
		}
		for _, k := range acked {
			if !stored[k.id] {
				t.Errorf("acknowledged token %s is not listed", k.id)
			}
		}
	})
	phase(t, "v2-token through the election", func(t *testing.T) {
		// /v2/token never failed on a live replica, through the election.
		for _, p := range probes {
			if p.a && !p.end.Before(replicaKilled) {
				continue // A was being killed (a probe in flight then fails)
			}
			if p.at.After(killed) && (firstOK.Load() == 0 || p.at.UnixNano() < firstOK.Load()) {
				duringElection++
			}
			if p.status != http.StatusOK {
				bad++
				t.Errorf("/v2/token on %s at %v after the leader's SIGKILL: status %d",
					map[bool]string{true: "A", false: "B"}[p.a], p.at.Sub(killed).Round(time.Millisecond), p.status)
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d /v2/token probes failed on a live replica", bad, len(probes))
		}
	})
	recovery := "never"
	if f := firstOK.Load(); f != 0 {
		recovery = time.Duration(f - killed.UnixNano()).Round(time.Millisecond).String()
	}
	t.Logf("fault test: %d creations acknowledged (201), %d failed or refused; %d lost; %d tokens stored; "+
		"first 201 to a creation sent after the leader's SIGKILL: %s after it; %d /v2/token probes, %d of them in that window, %d failed",
		len(acked), failed.Load(), lost, len(list), recovery, len(probes), duringElection, bad)
	if len(acked) == 0 {
		t.Error("no creation succeeded")
	}
}
