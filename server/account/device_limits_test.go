package account

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/store/boltstore"
	"github.com/portusproject/portus/shared/apitypes"
)

// deviceSpy is a real store that counts the device grant's reads and
// writes through UpdateDeviceGrant, and can slow user-code lookups down
// so that concurrent checks overlap.
type deviceSpy struct {
	model.Store
	lookupDelay time.Duration

	mu             sync.Mutex
	updates, wrote int
}

func (d *deviceSpy) UpdateDeviceGrant(h []byte, change func(*model.DeviceGrant) error) (model.DeviceGrant, error) {
	changed := false
	g, err := d.Store.UpdateDeviceGrant(h, func(g *model.DeviceGrant) error {
		err := change(g)
		changed = err == nil
		return err
	})
	d.mu.Lock()
	d.updates++
	if err == nil && changed {
		d.wrote++
	}
	d.mu.Unlock()
	return g, err
}

func (d *deviceSpy) DeviceGrantByUserCode(h []byte) (model.DeviceGrant, error) {
	time.Sleep(d.lookupDelay)
	return d.Store.DeviceGrantByUserCode(h)
}

func (d *deviceSpy) counts() (updates, wrote int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.updates, d.wrote
}

func deviceSpyFixture(t *testing.T, lookupDelay time.Duration) (*fixture, *deviceSpy) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "portus.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d := &deviceSpy{Store: st, lookupDelay: lookupDelay}
	f := &fixture{spy: &spyStore{Store: d}, clock: newClock(), log: &bytes.Buffer{}}
	f.svc, err = New(f.spy, Options{Pepper: testPepper, PasswordParams: cheap, Now: f.clock.Now, Logger: slog.New(slog.NewTextHandler(f.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.user(t, "alice", "correct horse battery", false)
	return f, d
}

// An expired token frees its slot for a device approval as it does for
// CreateToken: the page must not ask to remove a token the API would not.
func TestDeviceApprovalSkipsExpiredTokens(t *testing.T) {
	f := deviceFixture(t)
	soon := f.clock.Now().Add(time.Hour)
	if _, err := f.svc.CreateToken(alice, "alice", NewToken{Name: "short", Via: "api", ExpiresAt: &soon}); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		f.token(t, "alice", "other"+string(rune('a'+i)))
	}
	f.clock.Advance(2 * time.Hour)
	codes := f.request(t, "")
	if _, err := f.svc.DecideDevice(alice, codes.UserCode, true); err != nil {
		t.Fatalf("approving with 4 live tokens and one expired = %v, want room", err)
	}
	if _, err := f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9"); err != nil {
		t.Fatalf("poll after approval: %v", err)
	}
}

// Polls at the interval read the grant and write nothing; a client that
// hammers is answered mostly from memory, and lengthens the stored
// interval once per episode of too-fast polls.
func TestDevicePollsWriteOnlyToSlowDown(t *testing.T) {
	f, d := deviceSpyFixture(t, 0)
	codes := f.request(t, "")
	for range 6 {
		_, err := f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
		wantDeviceError(t, err, apitypes.OAuthPending)
		f.clock.Advance(5 * time.Second)
	}
	if _, wrote := d.counts(); wrote != 0 {
		t.Fatalf("6 polls at the interval wrote the grant %d times, want 0", wrote)
	}
	interval := func() time.Duration {
		g, err := f.svc.DeviceByUserCode(alice, codes.UserCode)
		if err != nil {
			t.Fatal(err)
		}
		return g.Interval
	}
	for episode, want := range []time.Duration{10 * time.Second, 15 * time.Second} {
		_, err := f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
		wantDeviceError(t, err, apitypes.OAuthPending)
		before, wroteBefore := d.counts()
		for range 25 {
			_, err := f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
			wantDeviceError(t, err, apitypes.OAuthSlowDown)
		}
		updates, wrote := d.counts()
		if wrote-wroteBefore != 1 || updates-before > deviceCodeBurst {
			t.Fatalf("episode %d: 25 fast polls wrote %d times and reached the store %d times, want 1 and at most %d",
				episode, wrote-wroteBefore, updates-before, deviceCodeBurst)
		}
		if got := interval(); got != want {
			t.Fatalf("episode %d: stored interval %s, want %s", episode, got, want)
		}
		f.clock.Advance(want)
	}
}

// One address cannot make the store answer polls without end, not even
// with codes that do not exist.
func TestDevicePollsLimitedPerAddress(t *testing.T) {
	f := deviceFixture(t)
	for i := range devicePollBurst {
		_, err := f.svc.PollDevice("no-such-code-"+string(rune('a'+i)), "", "192.0.2.66")
		wantDeviceError(t, err, apitypes.OAuthInvalidGrant)
	}
	_, err := f.svc.PollDevice("no-such-code", "", "192.0.2.66")
	if de := wantDeviceError(t, err, apitypes.OAuthSlowDown); de.RetryAfter <= 0 {
		t.Fatalf("a poll over the address limit has no RetryAfter: %+v", de)
	}
	_, err = f.svc.PollDevice("no-such-code", "", "192.0.2.67")
	wantDeviceError(t, err, apitypes.OAuthInvalidGrant)
}

// A right code resets no count: wrong guesses between codes the guesser
// requested still lock the user-code check.
func TestDeviceRightCodeDoesNotResetThrottle(t *testing.T) {
	f := deviceFixture(t)
	own := f.request(t, "")
	key := deviceThrottleKey(alice.Name)
	guess := func() {
		t.Helper()
		f.clock.Advance(f.svc.Throttle().Wait(key, alice.IP, true))
		if _, err := f.svc.DeviceByUserCode(alice, "BBBB-BBBB"); !errors.Is(err, ErrUserCodeUnknown) {
			t.Fatalf("wrong code = %v, want ErrUserCodeUnknown", err)
		}
	}
	for range userLockAfter - 1 {
		guess()
	}
	f.clock.Advance(f.svc.Throttle().Wait(key, alice.IP, true))
	if _, err := f.svc.DeviceByUserCode(alice, own.UserCode); err != nil {
		t.Fatalf("own code: %v", err)
	}
	guess()
	_, err := f.svc.DeviceByUserCode(Actor{Name: alice.Name, IP: "203.0.113.50"}, own.UserCode)
	wantThrottled(t, err, userLockFor-time.Minute, userLockFor)
}

// Concurrent guesses are checked one at a time, so a burst meets the
// delays its own failures earn instead of all passing the first check.
func TestDeviceParallelGuessesSerialised(t *testing.T) {
	f, _ := deviceSpyFixture(t, 20*time.Millisecond)
	f.request(t, "")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		checked int
	)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.svc.DeviceByUserCode(alice, "BBBB-BBBB"); errors.Is(err, ErrUserCodeUnknown) {
				mu.Lock()
				checked++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if checked > userDelayAfter {
		t.Fatalf("%d of 12 concurrent wrong codes were checked, want at most %d", checked, userDelayAfter)
	}
}

// Codes that do not exist cost this replica no per-code memory: random
// device codes from many addresses are paced by the address bucket only,
// so they cannot grow the per-code table, while a real code still has its
// bucket.
func TestDeviceUnknownCodesLeaveNoPerCodeMemory(t *testing.T) {
	f := deviceFixture(t)
	for i := range 500 {
		ip := fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
		for j := range 3 {
			_, err := f.svc.PollDevice(fmt.Sprintf("random-code-%d-%d", i, j), "", ip)
			wantDeviceError(t, err, apitypes.OAuthInvalidGrant)
		}
	}
	codes := f.svc.device.polls.codes
	count := func() int {
		codes.mu.Lock()
		defer codes.mu.Unlock()
		return len(codes.full)
	}
	if n := count(); n != 0 {
		t.Fatalf("1500 polls with unknown codes left %d entries in the per-code limiter, want 0", n)
	}
	real := f.request(t, "")
	for range 2 {
		if _, err := f.svc.PollDevice(real.DeviceCode, "", "192.0.2.9"); err == nil {
			t.Fatal("a pending code was answered with a token")
		}
	}
	if n := count(); n != 1 {
		t.Fatalf("after polls of one real code the per-code limiter has %d entries, want 1", n)
	}
}
