package account

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portusproject/portus/shared/apptoken"
)

func TestThrottleUserDelaysGrowThenLock(t *testing.T) {
	c := newClock()
	th := NewThrottle(c.Now)
	// Failures from distinct IPs, so that only the username counts.
	ip := func(i int) string { return fmt.Sprintf("192.0.2.%d", i) }
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, 64 * time.Second, 10 * time.Minute}
	for i, w := range want {
		th.Fail("alice", ip(i))
		if got := th.Wait("alice", "198.51.100.1", true); got != w {
			t.Fatalf("after %d failures Wait = %s, want %s", i+1, got, w)
		}
		// The delay is for this username only.
		if got := th.Wait("bob", "198.51.100.1", true); got != 0 {
			t.Fatalf("bob waits %s after alice's failures", got)
		}
		// Move past the delay (but not past a lock) before the next attempt.
		if i < len(want)-1 {
			c.Advance(w)
		}
	}
	if u, _ := th.Throttled(); u != 1 {
		t.Errorf("Throttled users = %d, want 1", u)
	}
	c.Advance(9*time.Minute + 59*time.Second)
	if got := th.Wait("alice", "198.51.100.1", true); got != time.Second {
		t.Errorf("1 s before the lock ends Wait = %s, want 1s", got)
	}
	c.Advance(time.Second)
	if got := th.Wait("alice", "198.51.100.1", true); got != 0 {
		t.Errorf("when the lock ends Wait = %s, want 0", got)
	}
}

func TestThrottleSuccessResets(t *testing.T) {
	c := newClock()
	th := NewThrottle(c.Now)
	for i := 0; i < 9; i++ {
		th.Fail("alice", "")
	}
	if th.Wait("alice", "", true) == 0 {
		t.Fatal("no delay after 9 failures")
	}
	th.Succeed("alice", "")
	if got := th.Wait("alice", "", true); got != 0 {
		t.Fatalf("after a success Wait = %s", got)
	}
	// The count starts again: two more failures are no lock, and it takes
	// three to be slowed down again.
	th.Fail("alice", "")
	th.Fail("alice", "")
	if got := th.Wait("alice", "", true); got != 0 {
		t.Errorf("2 failures after a success: Wait = %s, want 0", got)
	}
	th.Fail("alice", "")
	if got := th.Wait("alice", "", true); got != time.Second {
		t.Errorf("3 failures after a success: Wait = %s, want 1s", got)
	}
}

func TestThrottleLockSparesTokensAndKnownIPs(t *testing.T) {
	c := newClock()
	th := NewThrottle(c.Now)
	th.Succeed("alice", "198.51.100.7") // alice's own machine
	for i := 0; i < 10; i++ {
		th.Fail("alice", fmt.Sprintf("203.0.113.%d", i)) // an attacker, spread over IPs
	}
	if got := th.Wait("alice", "203.0.113.99", true); got != 10*time.Minute {
		t.Fatalf("password from a new IP: Wait = %s, want 10m", got)
	}
	if got := th.Wait("alice", "203.0.113.99", false); got != 0 {
		t.Errorf("token from a new IP: Wait = %s, want 0 (the lock is for passwords)", got)
	}
	if got := th.Wait("alice", "198.51.100.7", true); got != 0 {
		t.Errorf("password from alice's known IP: Wait = %s, want 0", got)
	}
}

func TestThrottleIPBackoffAcrossUsernames(t *testing.T) {
	c := newClock()
	th := NewThrottle(c.Now)
	const attacker = "203.0.113.5"
	for i := 0; i < 4; i++ {
		th.Fail(fmt.Sprintf("user%d", i), attacker)
	}
	if got := th.Wait("fresh", attacker, true); got != 0 {
		t.Fatalf("after 4 failures from one IP Wait = %s, want 0", got)
	}
	th.Fail("user4", attacker)
	if got := th.Wait("fresh", attacker, true); got != time.Second {
		t.Errorf("after 5 password failures Wait = %s, want 1s", got)
	}
	// Password failures do not slow down application tokens from that IP
	// (a guessing neighbour behind the same NAT must not stop a CI job).
	if got := th.Wait("fresh", attacker, false); got != 0 {
		t.Errorf("token after 5 password failures: Wait = %s, want 0", got)
	}
	if got := th.Wait("fresh", "198.51.100.1", true); got != 0 {
		t.Errorf("another IP waits %s", got)
	}
	if _, ips := th.Throttled(); ips != 1 {
		t.Errorf("Throttled ips = %d, want 1", ips)
	}
	// The delay doubles and stops at 5 minutes.
	var last time.Duration
	for i := 5; i < 20; i++ {
		c.Advance(th.Wait("fresh", attacker, true))
		th.Fail(fmt.Sprintf("user%d", i), attacker)
		last = th.Wait("fresh", attacker, true)
	}
	if last != 5*time.Minute {
		t.Errorf("after 20 failures the IP waits %s, want the 5m cap", last)
	}
}

func TestThrottleTokenFailures(t *testing.T) {
	c := newClock()
	th := NewThrottle(c.Now)
	const ip = "203.0.113.6"
	for i := 0; i < 4; i++ {
		th.FailToken(ip)
	}
	if got := th.Wait("alice", ip, false); got != 0 {
		t.Fatalf("after 4 token failures Wait = %s, want 0", got)
	}
	th.FailToken(ip)
	if got := th.Wait("alice", ip, false); got != time.Second {
		t.Errorf("after 5 token failures Wait = %s, want 1s", got)
	}
	// Token failures slow down tokens only: passwords from the IP, and the
	// username, are untouched.
	if got := th.Wait("alice", ip, true); got != 0 {
		t.Errorf("password after 5 token failures: Wait = %s, want 0", got)
	}
	for i := 0; i < 20; i++ {
		th.FailToken(fmt.Sprintf("192.0.2.%d", i))
	}
	if got := th.Wait("alice", "198.51.100.1", true); got != 0 {
		t.Errorf("password after 20 token failures from other IPs: Wait = %s, want 0", got)
	}
}

// TestThrottleEntriesExpire: "Entries expire once they have been quiet for
// the lock period." Once the lock is over, a single new failure (the
// victim's own typo) must not lock the username for another 10 minutes, and
// an IP that stopped failing long ago starts from a clean slate.
func TestThrottleEntriesExpire(t *testing.T) {
	c := newClock()
	th := NewThrottle(c.Now)
	for i := 0; i < 10; i++ {
		th.Fail("alice", "")
	}
	if got := th.Wait("alice", "", true); got != 10*time.Minute {
		t.Fatalf("after 10 failures Wait = %s", got)
	}
	c.Advance(10*time.Minute + time.Second)
	if got := th.Wait("alice", "", true); got != 0 {
		t.Fatalf("after the window Wait = %s, want 0", got)
	}
	th.Fail("alice", "")
	if got := th.Wait("alice", "", true); got != 0 {
		t.Errorf("one failure after the quiet window: Wait = %s, want 0 (the old count should have expired)", got)
	}

	for i := 0; i < 5; i++ {
		th.Fail("", "203.0.113.9")
	}
	c.Advance(10*time.Minute + time.Second)
	th.Fail("", "203.0.113.9")
	if got := th.Wait("x", "203.0.113.9", true); got != 0 {
		t.Errorf("one IP failure after the quiet window: Wait = %s, want 0", got)
	}
}

func TestServiceLockAfterTenFailures(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "right-password", false)
	_, tok := f.token(t, "alice", "laptop")
	if _, err := f.svc.AuthenticatePassword("alice", "right-password", "198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		ip := fmt.Sprintf("203.0.113.%d", i)
		// Wait out each growing delay, as a patient attacker would.
		if w := f.svc.Throttle().Wait("alice", ip, true); w > 0 {
			f.clock.Advance(w)
		}
		if _, err := f.svc.AuthenticatePassword("alice", "guess", ip); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	// Locked: even the right password from a new IP is refused unchecked.
	_, err := f.svc.AuthenticatePassword("alice", "right-password", "203.0.113.200")
	wantThrottled(t, err, 10*time.Minute-time.Second, 10*time.Minute)
	var te *ThrottledError
	errors.As(err, &te)
	if te.RetrySeconds() != 600 {
		t.Errorf("RetrySeconds = %d, want 600", te.RetrySeconds())
	}
	// A token still works from anywhere, and the password from alice's
	// known machine.
	if _, err := f.svc.AuthenticateToken("alice", tok, "203.0.113.201"); err != nil {
		t.Errorf("token during the lock: %v", err)
	}
	// (the token's success reset the count; lock alice again)
	for i := 0; i < 10; i++ {
		f.svc.Throttle().Fail("alice", "")
	}
	if _, err := f.svc.AuthenticatePassword("alice", "right-password", "198.51.100.7"); err != nil {
		t.Errorf("password from the known IP during the lock: %v", err)
	}
	// After the window, the password works from a new IP.
	for i := 0; i < 10; i++ {
		f.svc.Throttle().Fail("alice", "")
	}
	f.clock.Advance(10*time.Minute + time.Second)
	if _, err := f.svc.AuthenticatePassword("alice", "right-password", "203.0.113.202"); err != nil {
		t.Errorf("after the lock window: %v", err)
	}
}

func TestServiceIPBackoff(t *testing.T) {
	f := newFixture(t, Options{})
	f.user(t, "alice", "right-password", false)
	_, tok := f.token(t, "alice", "laptop")
	forged, _ := apptoken.New()

	// Password spraying from one IP slows down passwords from it.
	const sprayer = "203.0.113.50"
	for i := 0; i < 5; i++ {
		f.svc.AuthenticatePassword(fmt.Sprintf("victim%d", i), "guess", sprayer)
	}
	_, err := f.svc.AuthenticatePassword("alice", "right-password", sprayer)
	wantThrottled(t, err, time.Second, time.Second)
	if _, err := f.svc.Authenticate("alice", tok, sprayer); err != nil {
		t.Errorf("token from the spraying IP: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.svc.Authenticate("alice", "right-password", sprayer); err != nil {
		t.Errorf("after the backoff: %v", err)
	}

	// Bad tokens from one IP slow down tokens from it, not passwords,
	// and never lock the username.
	const stale = "203.0.113.51"
	for i := 0; i < 12; i++ {
		if _, err := f.svc.Authenticate("alice", forged, stale); err != ErrAuthFailed {
			t.Fatalf("bad token %d: %v", i, err)
		}
		f.clock.Advance(f.svc.Throttle().Wait("alice", stale, false))
	}
	f.svc.Authenticate("alice", forged, stale)
	_, err = f.svc.AuthenticateToken("alice", tok, stale)
	wantThrottled(t, err, time.Second, 5*time.Minute)
	if _, err := f.svc.Authenticate("alice", "right-password", stale); err != nil {
		t.Errorf("password from an IP with bad tokens: %v", err)
	}
	if _, err := f.svc.Authenticate("alice", "right-password", "198.51.100.99"); err != nil {
		t.Errorf("password after many bad tokens: %v", err)
	}
}

// A burst of concurrent wrong passwords is checked one by one, so it meets
// the delay its own first failures earn: 3 checks, not 60.
func TestConcurrentGuessesAreCheckedOneByOne(t *testing.T) {
	var checks atomic.Int64
	f := newFixture(t, Options{OnAuthFailure: func(string) { checks.Add(1) }})
	if _, err := f.svc.CreateUser(Actor{Name: "test"}, "alice", "alice-password", false, false); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var throttled atomic.Int64
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.AuthenticatePassword("alice", "wrong-password", fmt.Sprintf("10.0.%d.1", i))
			var te *ThrottledError
			if errors.As(err, &te) {
				throttled.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := checks.Load(); n != userDelayAfter {
		t.Fatalf("%d concurrent guesses led to %d password checks, want %d", 60, n, userDelayAfter)
	}
	if throttled.Load() != 60-userDelayAfter {
		t.Fatalf("%d throttled, want %d", throttled.Load(), 60-userDelayAfter)
	}
}

// A busy CI token must not lift the password lock an attacker earned.
func TestTokenUseDoesNotLiftThePasswordLock(t *testing.T) {
	f := newFixture(t, Options{})
	if _, err := f.svc.CreateUser(Actor{Name: "test"}, "alice", "alice-password", false, false); err != nil {
		t.Fatal(err)
	}
	tok, err := f.svc.CreateToken(Actor{Name: "alice"}, "alice", NewToken{Name: "ci", Via: "api"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < userLockAfter; i++ {
		f.svc.AuthenticatePassword("alice", "wrong-password", "203.0.113.9")
		f.clock.Advance(2 * time.Minute) // let each delay pass; the lock is what we want
	}
	if _, err := f.svc.AuthenticateToken("alice", tok.Token, "198.51.100.7"); err != nil {
		t.Fatalf("the token stopped working under a password lock: %v", err)
	}
	var te *ThrottledError
	if _, err := f.svc.AuthenticatePassword("alice", "alice-password", "203.0.113.10"); !errors.As(err, &te) {
		t.Fatalf("after a token use the password lock was lifted: %v", err)
	}
}

// Addresses of one IPv6 /64 count as one client.
func TestThrottleGroupsIPv6Slash64(t *testing.T) {
	c := newClock()
	th := NewThrottle(c.Now)
	for i := 0; i < ipDelayAfter; i++ {
		th.Fail(fmt.Sprintf("user%d", i), fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	if th.Wait("someone", "2001:db8:1:2:ffff::1", true) == 0 {
		t.Fatal("a fresh address of the same /64 is not held back")
	}
	if th.Wait("someone", "2001:db8:1:3::1", true) != 0 {
		t.Fatal("another /64 is held back")
	}
	if got := clientKey("192.0.2.7"); got != "192.0.2.7" {
		t.Fatalf("IPv4 key %q", got)
	}
}
