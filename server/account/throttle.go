package account

import (
	"net/netip"
	"sync"
	"time"
)

// Throttle slows down password guessing. It counts consecutive failed
// authentications per username and per client IP:
//
//   - a username, after 3 failures, must wait 1 s, then 2 s, 4 s … before its
//     next password is checked, and after 10 failures it is locked for 10
//     minutes;
//   - a client IP, after 5 failures, must wait 1 s, doubling up to 5 minutes.
//
// Password failures and application-token failures are counted apart, and
// each slows down only its own kind: a password-guessing neighbour behind
// the same NAT does not stop a CI job's token, and a client stuck on a
// revoked token does not lock anyone's password. A success resets the
// username's count. So that an attacker cannot keep a victim out, the
// username lock applies to passwords only (application tokens are
// unguessable), and never to an IP from which that user recently signed in
// successfully. Entries expire once they have
// been quiet for the lock period. One Throttle serves the API, /v2/token and
// the web sign-in.
type Throttle struct {
	now func() time.Time

	mu        sync.Mutex
	lastSweep time.Time
	users     map[string]*failures // password failures per username
	ips       map[string]*failures // password failures per client IP
	tokenIPs  map[string]*failures // application-token failures per client IP

	// onLock, if set, is told when a username becomes locked, outside mu.
	onLock func(user, ip string)
}

type failures struct {
	count    int
	last     time.Time
	until    time.Time
	inflight int // password checks running or waiting for their turn
	turnOnce sync.Once
	turnCh   chan struct{} // one password check at a time
	trusted  []string      // IPs this user signed in from successfully, newest last
}

const (
	userDelayAfter   = 3
	userLockAfter    = 10
	userLockFor      = 10 * time.Minute
	ipDelayAfter     = 5
	ipMaxDelay       = 5 * time.Minute
	maxTrustedIPs    = 8
	throttleSweepLen = 10000
	// How long a password check waits for its turn before the client is
	// told to come back.
	turnTimeout   = 5 * time.Second
	inflightRetry = time.Second
)

// NewThrottle returns an empty throttle; now may be nil for time.Now.
func NewThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{now: now, users: map[string]*failures{}, ips: map[string]*failures{}, tokenIPs: map[string]*failures{}}
}

// Wait returns how long the client must wait before credentials for user
// from ip are checked; zero means go ahead. password says whether the
// credential is a password (username locks apply only to passwords).
func (t *Throttle) Wait(user, ip string, password bool) time.Duration {
	ip = clientKey(ip)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	ips := t.tokenIPs
	if password {
		ips = t.ips
	}
	var wait time.Duration
	if f := ips[ip]; f != nil && f.until.After(now) {
		wait = f.until.Sub(now)
	}
	if f := t.users[user]; password && f != nil && f.until.After(now) && !f.trusts(ip) {
		wait = max(wait, f.until.Sub(now))
	}
	return wait
}

// BeginPassword takes the turn of user and of ip for one password check
// and returns zero, or returns how long the client must wait instead. Each
// username and each client IP has one check running at a time, and the
// next waits for its outcome: a burst of concurrent guesses is checked one
// by one, so it meets the delays its own failures earn, while a script
// that creates tokens in parallel with the right password is only
// serialised. A caller that got zero calls EndPassword after recording the
// outcome with Fail or Succeed.
func (t *Throttle) BeginPassword(user, ip string) time.Duration {
	ip = clientKey(ip)
	if wait := t.Wait(user, ip, true); wait > 0 {
		return wait
	}
	t.mu.Lock()
	u, i := entry(t.users, user), entry(t.ips, ip)
	u.inflight++
	i.inflight++
	t.mu.Unlock()

	timeout := time.NewTimer(turnTimeout)
	defer timeout.Stop()
	select {
	case u.turn() <- struct{}{}:
	case <-timeout.C:
		t.release(user, ip, false, false)
		return inflightRetry
	}
	select {
	case i.turn() <- struct{}{}:
	case <-timeout.C:
		t.release(user, ip, true, false)
		return inflightRetry
	}
	if wait := t.Wait(user, ip, true); wait > 0 {
		t.release(user, ip, true, true)
		return wait
	}
	return 0
}

// EndPassword gives back the turns taken by BeginPassword.
func (t *Throttle) EndPassword(user, ip string) { t.release(user, clientKey(ip), true, true) }

func (t *Throttle) release(user, ip string, userTurn, ipTurn bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, x := range []struct {
		m    map[string]*failures
		key  string
		turn bool
	}{{t.users, user, userTurn}, {t.ips, ip, ipTurn}} {
		f := x.m[x.key]
		if f == nil {
			continue
		}
		if x.turn {
			<-f.turnCh
		}
		f.inflight--
		if f.inflight <= 0 && f.count == 0 && len(f.trusted) == 0 {
			delete(x.m, x.key) // nothing to remember
		}
	}
}

// turn returns the entry's one-slot turn, made on first use. Called with
// t.mu not held, after inflight was raised under it (so the entry stays).
func (f *failures) turn() chan struct{} {
	f.turnOnce.Do(func() { f.turnCh = make(chan struct{}, 1) })
	return f.turnCh
}

// Fail records a failed password authentication.
func (t *Throttle) Fail(user, ip string) {
	if t.fail(user, ip) && t.onLock != nil {
		t.onLock(user, ip)
	}
}

// fail records the failure and reports whether it locked the username.
func (t *Throttle) fail(user, ip string) (locked bool) {
	ip = clientKey(ip)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maybeSweep(now)
	if user != "" {
		f := entry(t.users, user)
		f.forgetIfQuiet(now)
		f.count++
		f.last = now
		switch {
		case f.count >= userLockAfter:
			locked = f.count == userLockAfter || !f.until.After(now)
			f.until = now.Add(userLockFor)
		case f.count >= userDelayAfter:
			f.until = now.Add(backoff(f.count-userDelayAfter, userLockFor))
		}
	}
	failIP(t.ips, ip, now)
	return locked
}

// FailToken records a failed application-token authentication from ip.
func (t *Throttle) FailToken(ip string) {
	ip = clientKey(ip)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.maybeSweep(now)
	failIP(t.tokenIPs, ip, now)
}

func failIP(m map[string]*failures, ip string, now time.Time) {
	if ip == "" {
		return
	}
	f := entry(m, ip)
	f.forgetIfQuiet(now)
	f.count++
	f.last = now
	if f.count >= ipDelayAfter {
		f.until = now.Add(backoff(f.count-ipDelayAfter, ipMaxDelay))
	}
}

// Succeed records a successful authentication: the username's count starts
// again and ip becomes one the username lock does not apply to.
func (t *Throttle) Succeed(user, ip string) {
	ip = clientKey(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.users[user]
	if f == nil {
		if ip == "" {
			return
		}
		f = entry(t.users, user)
	}
	f.count, f.until = 0, time.Time{}
	if ip != "" && !f.trusts(ip) {
		f.trusted = append(f.trusted, ip)
		if len(f.trusted) > maxTrustedIPs {
			f.trusted = f.trusted[1:]
		}
	}
	f.last = t.now()
}

// Unlock forgets the username's failures, lifting a delay or lock.
func (t *Throttle) Unlock(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.users[user]; f != nil {
		f.count, f.until = 0, time.Time{}
	}
}

// Throttled returns how many usernames and client IPs must wait right now.
func (t *Throttle) Throttled() (users, ips int) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.users {
		if f.until.After(now) {
			users++
		}
	}
	for _, m := range []map[string]*failures{t.ips, t.tokenIPs} {
		for _, f := range m {
			if f.until.After(now) {
				ips++
			}
		}
	}
	return users, ips
}

// maybeSweep sweeps a large table, at most every 30 s: sweeping on every
// failure would make a flood of failures quadratic under the lock.
func (t *Throttle) maybeSweep(now time.Time) {
	if len(t.users)+len(t.ips)+len(t.tokenIPs) > throttleSweepLen && now.Sub(t.lastSweep) > 30*time.Second {
		t.lastSweep = now
		t.sweep(now)
	}
}

// clientKey is the throttle's key for a client address: the address, or
// for IPv6 its /64, since one subscriber usually holds a whole /64 and
// could otherwise rotate through it for free.
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return ip
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// sweep forgets entries that have been quiet for the lock period. Trusted
// IPs are forgotten with them, which only makes the throttle stricter.
func (t *Throttle) sweep(now time.Time) {
	for _, m := range []map[string]*failures{t.users, t.ips, t.tokenIPs} {
		for k, f := range m {
			if now.Sub(f.last) > userLockFor && !f.until.After(now) && f.inflight == 0 {
				delete(m, k)
			}
		}
	}
}

// forgetIfQuiet starts the count again when the last failure is older than
// the lock period and no wait is pending.
func (f *failures) forgetIfQuiet(now time.Time) {
	if now.Sub(f.last) > userLockFor && !f.until.After(now) {
		f.count = 0
	}
}

func (f *failures) trusts(ip string) bool {
	for _, t := range f.trusted {
		if t == ip {
			return true
		}
	}
	return false
}

func entry(m map[string]*failures, key string) *failures {
	f := m[key]
	if f == nil {
		f = &failures{}
		m[key] = f
	}
	return f
}

// backoff is 1 s doubled n times, at most limit.
func backoff(n int, limit time.Duration) time.Duration {
	if n > 20 {
		return limit
	}
	return min(time.Second<<n, limit)
}
