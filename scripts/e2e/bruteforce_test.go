package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

// Brute force, script-style: 1 000 wrong passwords for one username as fast
// as 10 clients can send them, against the real binary with its real
// password hashing, while another user keeps working. Three ways:
//
//   - from one address, behind a proxy the server trusts (--trusted-proxy
//     127.0.0.1, X-Forwarded-For names the address);
//   - from 50 addresses behind that proxy;
//   - with 50 forged X-Forwarded-For addresses and no trusted proxy: the
//     header is ignored and all 1 000 count against 127.0.0.1.
//
// Each time: the throttle engages (429 with Retry-After), only a handful
// of the guesses are checked at all, the victim still signs in from an
// address she used before and, once the window passes (waited for when it
// is seconds, lifted with `portus user unlock` when it is the 10-minute
// lock), from anywhere; another user's registry logins go on throughout.

const (
	bruteGuesses  = 1000
	bruteClients  = 10
	bruteMaxDelay = 2 * time.Second // generous bound on a bystander's request
)

func TestBruteForce(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted bool
		from    func(i int) string
	}{
		{"one address behind a trusted proxy", true, func(int) string { return "203.0.113.1" }},
		{"50 addresses behind a trusted proxy", true, func(i int) string { return fmt.Sprintf("203.0.113.%d", i%50+1) }},
		{"forged X-Forwarded-For without a trusted proxy", false, func(i int) string { return fmt.Sprintf("203.0.113.%d", i%50+1) }},
	} {
		t.Run(c.name, func(t *testing.T) { bruteForce(t, c.trusted, c.from) })
	}
}

func bruteForce(t *testing.T, trusted bool, from func(int) string) {
	var flags []string
	if trusted {
		flags = append(flags, "--trusted-proxy", "127.0.0.1")
	}
	p := startPortus(t, flags...)
	const alicePW, bobPW = "alice-password-1", "bob-password-22"
	p.createUser(t, "alice", alicePW, false)
	p.createUser(t, "bob", bobPW, false)
	bobTok := p.createToken(t, "bob", "ci", "pull")
	client := newSrvClient()
	defer client.CloseIdleConnections()
	// Where alice and bob really are: with a trusted proxy, addresses of
	// their own; without, everyone is 127.0.0.1.
	home, bobHome := "", ""
	if trusted {
		home, bobHome = "198.51.100.7", "198.51.100.20"
	}
	signIn := func(user, pw, addr string) srvReply {
		t.Helper()
		r, err := srvReq{method: http.MethodGet, url: p.URL + apitypes.TokensPath, user: user, pass: pw, from: addr}.do(client)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// alice has signed in from home before.
	if r := signIn("alice", alicePW, home); r.status != http.StatusOK {
		t.Fatalf("alice before the attack: %s", r)
	}

	// The bystander: bob's registry logins with his token, one after the
	// other, and (where he has an address of his own) his password now
	// and then, for as long as the attack lasts.
	var (
		attackDone = make(chan struct{})
		bystander  sync.WaitGroup
		latencies  []time.Duration
		byErrs     []string
	)
	bystander.Add(1)
	go func() {
		defer bystander.Done()
		bc := newSrvClient()
		defer bc.CloseIdleConnections()
		for n := 0; n < 100000; n++ {
			select {
			case <-attackDone:
				if n > 0 {
					return
				}
			default:
			}
			q := srvReq{method: http.MethodGet, url: registryTokenURL(p.URL), user: "bob", pass: bobTok, from: bobHome}
			if trusted && n%10 == 5 {
				q.pass = bobPW
			}
			start := time.Now()
			r, err := q.do(bc)
			d := time.Since(start)
			latencies = append(latencies, d)
			switch {
			case err != nil:
				byErrs = append(byErrs, err.Error())
			case r.status != http.StatusOK:
				byErrs = append(byErrs, fmt.Sprintf("bob (%s): %s", map[bool]string{true: "password", false: "token"}[q.pass == bobPW], r))
			case d > bruteMaxDelay:
				byErrs = append(byErrs, fmt.Sprintf("bob waited %s", d))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	// The attack.
	var (
		next      atomic.Int64
		mu        sync.Mutex
		statuses  = map[int]int{}
		retry     = map[int]int{} // Retry-After seconds → count
		attackErr []string
		wg        sync.WaitGroup
	)
	started := time.Now()
	for range bruteClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= bruteGuesses {
					return
				}
				u := p.URL + apitypes.TokensPath
				if i%2 == 1 {
					u = registryTokenURL(p.URL) // docker login: the same throttle
				}
				r, err := srvReq{method: http.MethodGet, url: u, user: "alice", pass: fmt.Sprintf("guess-%04d-password", i), from: from(i)}.do(client)
				mu.Lock()
				switch {
				case err != nil:
					attackErr = append(attackErr, err.Error())
				case r.status == http.StatusTooManyRequests:
					statuses[r.status]++
					ra, err := strconv.Atoi(r.header.Get("Retry-After"))
					if err != nil || ra < 1 {
						attackErr = append(attackErr, fmt.Sprintf("429 with Retry-After %q", r.header.Get("Retry-After")))
					}
					retry[ra]++
				case r.status == http.StatusUnauthorized:
					statuses[r.status]++
				default:
					attackErr = append(attackErr, fmt.Sprintf("guess %d: %s", i, r))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(started)
	close(attackDone)
	bystander.Wait()
	for _, e := range append(attackErr, byErrs...) {
		t.Error(e)
	}
	checked, throttled := statuses[http.StatusUnauthorized], statuses[http.StatusTooManyRequests]
	if checked+throttled != bruteGuesses {
		t.Fatalf("statuses %v for %d guesses", statuses, bruteGuesses)
	}
	if throttled == 0 {
		t.Error("the throttle never engaged")
	}
	if checked > 20 {
		t.Errorf("%d of %d guesses were checked; the throttle should let only a handful through in %s", checked, bruteGuesses, took)
	}
	if n := metricValue(t, p, `portus_auth_failures_total{kind="password"}`); n != checked {
		t.Errorf("the server counted %d failed password checks, the clients saw %d 401s", n, checked)
	}
	slices.Sort(latencies)
	if len(latencies) == 0 {
		t.Fatal("the bystander sent nothing")
	}
	t.Logf("%d wrong passwords in %s: %d checked (401), %d refused unchecked (429; Retry-After seconds → count: %v); bystander: %d requests, all 200, median %s, max %s",
		bruteGuesses, took.Round(time.Millisecond), checked, throttled, retry, len(latencies),
		latencies[len(latencies)/2].Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond))

	// Who the server thought the attacker was: the access log has the
	// client address the throttle keys on, for every request.
	addrs := attackAddresses(p.log.String())
	if !trusted {
		if len(addrs) != 1 || addrs["127.0.0.1"] < bruteGuesses {
			t.Errorf("without a trusted proxy the guesses came from %v; want all %d from 127.0.0.1 (X-Forwarded-For ignored)", addrs, bruteGuesses)
		}
	} else if want := len(attackSources(from)); len(addrs) != want {
		t.Errorf("behind the trusted proxy the guesses came from %d addresses, want %d: %v", len(addrs), want, addrs)
	}
	// The audit log keeps the same address the throttle counted.
	for _, ip := range auditFailureIPs(t, p) {
		if !trusted && ip != "127.0.0.1" {
			t.Errorf("audit log: a failure from %q without a trusted proxy", ip)
		}
		if trusted && !strings.HasPrefix(ip, "203.0.113.") {
			t.Errorf("audit log: a failure from %q, not the attacker's forwarded address", ip)
		}
	}

	// alice, from where she signed in before: the username lock spares
	// that address (without a proxy that address is the attacker's too,
	// so she waits like everyone there).
	if trusted {
		if r := signIn("alice", alicePW, home); r.status != http.StatusOK {
			t.Errorf("alice from home during the attack's lock: %s", r)
		}
	}
	// Anywhere else, once the window passes.
	elsewhere := ""
	if trusted {
		elsewhere = "198.51.100.99"
	}
	how := "at once"
	for attempt := 0; ; attempt++ {
		r := signIn("alice", alicePW, elsewhere)
		if r.status == http.StatusOK {
			break
		}
		ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
		switch {
		case r.status != http.StatusTooManyRequests || attempt == 3:
			t.Fatalf("alice after the attack (%s so far): %s", how, r)
		case ra <= 10:
			time.Sleep(time.Duration(ra) * time.Second)
			how = fmt.Sprintf("after waiting out a %d s window", ra)
		default:
			p.portus(t, "", "user", "unlock", "alice")
			how = fmt.Sprintf("after `portus user unlock alice` (Retry-After was %d s)", ra)
		}
	}
	t.Logf("alice signed in again %s", how)
}

// attackSources returns the addresses from hands out for the attack.
func attackSources(from func(int) string) map[string]bool {
	m := map[string]bool{}
	for i := range bruteGuesses {
		m[from(i)] = true
	}
	return m
}

var accessLine = regexp.MustCompile(`msg=request method=GET path=(\S+) status=(401|429) .* client_ip=(\S+)`)

// attackAddresses counts, by client address, the access-log lines of the
// refused requests (401 and 429) on the attacked paths.
func attackAddresses(log string) map[string]int {
	m := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if g := accessLine.FindStringSubmatch(sc.Text()); g != nil && (g[1] == apitypes.TokensPath || g[1] == "/v2/token") {
			m[g[3]]++
		}
	}
	return m
}

// auditFailureIPs returns the client addresses of the auth.failure entries
// in the audit log, read over the admin socket.
func auditFailureIPs(t *testing.T, p *portusServer) []string {
	t.Helper()
	sock := adminSocketClient(p.Data)
	defer sock.CloseIdleConnections()
	r, err := srvReq{method: http.MethodGet, url: adminSocketURL + "/api/v1/activities?user=alice&limit=500"}.do(sock)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("reading the audit log: %v %s", err, r)
	}
	var page apitypes.ActivityPage
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, a := range page.Activities {
		if a.Action == "auth.failure" {
			ips = append(ips, a.ClientIP)
		}
	}
	if len(ips) == 0 {
		t.Error("the audit log has no failed sign-in")
	}
	return ips
}

// metricValue reads one sample from /metrics.
func metricValue(t *testing.T, p *portusServer, sample string) int {
	t.Helper()
	r, err := srvReq{method: http.MethodGet, url: p.URL + "/metrics"}.do(http.DefaultClient)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("/metrics: %v %s", err, r)
	}
	for _, line := range strings.Split(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return int(n)
		}
	}
	return 0
}
