package account

import (
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
// A success resets the username's count. So that an attacker cannot keep a
// victim out, the username lock applies to passwords only (application
// tokens are unguessable and keep working), and never to an IP from which
// that user recently signed in successfully. Entries expire once they have
// been quiet for the lock period. One Throttle serves the API, /v2/token and
// the web sign-in.
type Throttle struct {
	now func() time.Time

	mu    sync.Mutex
	users map[string]*failures
	ips   map[string]*failures
}

type failures struct {
	count   int
	last    time.Time
	until   time.Time
	trusted []string // IPs this user signed in from successfully, newest last
}

const (
	userDelayAfter   = 3
	userLockAfter    = 10
	userLockFor      = 10 * time.Minute
	ipDelayAfter     = 5
	ipMaxDelay       = 5 * time.Minute
	maxTrustedIPs    = 8
	throttleSweepLen = 10000
)

// NewThrottle returns an empty throttle; now may be nil for time.Now.
func NewThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{now: now, users: map[string]*failures{}, ips: map[string]*failures{}}
}

// Wait returns how long the client must wait before credentials for user
// from ip are checked; zero means go ahead. password says whether the
// credential is a password (username locks apply only to passwords).
func (t *Throttle) Wait(user, ip string, password bool) time.Duration {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	if f := t.ips[ip]; f != nil && f.until.After(now) {
		wait = f.until.Sub(now)
	}
	if f := t.users[user]; password && f != nil && f.until.After(now) && !f.trusts(ip) {
		wait = max(wait, f.until.Sub(now))
	}
	return wait
}

// Fail records a failed authentication.
func (t *Throttle) Fail(user, ip string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.users)+len(t.ips) > throttleSweepLen {
		t.sweep(now)
	}
	if user != "" {
		f := entry(t.users, user)
		f.count++
		f.last = now
		switch {
		case f.count >= userLockAfter:
			f.until = now.Add(userLockFor)
		case f.count >= userDelayAfter:
			f.until = now.Add(backoff(f.count-userDelayAfter, userLockFor))
		}
	}
	if ip != "" {
		f := entry(t.ips, ip)
		f.count++
		f.last = now
		if f.count >= ipDelayAfter {
			f.until = now.Add(backoff(f.count-ipDelayAfter, ipMaxDelay))
		}
	}
}

// Succeed records a successful authentication: the username's count starts
// again and ip becomes one the username lock does not apply to.
func (t *Throttle) Succeed(user, ip string) {
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
	for _, f := range t.ips {
		if f.until.After(now) {
			ips++
		}
	}
	return users, ips
}

// sweep forgets entries that have been quiet for the lock period. Trusted
// IPs are forgotten with them, which only makes the throttle stricter.
func (t *Throttle) sweep(now time.Time) {
	for _, m := range []map[string]*failures{t.users, t.ips} {
		for k, f := range m {
			if now.Sub(f.last) > userLockFor && !f.until.After(now) {
				delete(m, k)
			}
		}
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
