package account

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

var alice = Actor{Name: "alice", IP: "198.51.100.4"}

func deviceFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, Options{})
	f.user(t, "alice", "correct horse battery", false)
	return f
}

func (f *fixture) request(t *testing.T, scope string) DeviceCodes {
	t.Helper()
	codes, err := f.svc.RequestDevice(DeviceRequest{ClientID: "docker-credential-portus", Scope: scope, Name: "docker-credential-portus@box"}, "192.0.2.9")
	if err != nil {
		t.Fatalf("RequestDevice: %v", err)
	}
	return codes
}

func wantDeviceError(t *testing.T, err error, code string) *DeviceError {
	t.Helper()
	var de *DeviceError
	if !errors.As(err, &de) || de.Code != code {
		t.Fatalf("error = %v, want the OAuth error %s", err, code)
	}
	return de
}

func TestDeviceCodesShape(t *testing.T) {
	f := deviceFixture(t)
	codes := f.request(t, "")
	if len(codes.UserCode) != 9 || codes.UserCode[4] != '-' {
		t.Fatalf("user code %q, want XXXX-XXXX", codes.UserCode)
	}
	for _, r := range strings.ReplaceAll(codes.UserCode, "-", "") {
		if !strings.ContainsRune(userCodeAlphabet, r) {
			t.Fatalf("user code %q has %q, outside %s", codes.UserCode, r, userCodeAlphabet)
		}
	}
	if len(codes.DeviceCode) < 43 || codes.ExpiresIn != 10*time.Minute || codes.Interval != 5*time.Second {
		t.Fatalf("codes %+v: want a 256-bit device code, 10 min, 5 s", codes)
	}
	// Neither code is stored as it is.
	g, err := f.svc.DeviceByUserCode(alice, codes.UserCode)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(g.DeviceHash), codes.DeviceCode) || g.Scope != apitypes.ScopePush || g.ClientIP != "192.0.2.9" {
		t.Fatalf("stored grant %+v", g)
	}
	for _, typed := range []string{strings.ToLower(codes.UserCode), strings.ReplaceAll(codes.UserCode, "-", ""), " " + codes.UserCode[:4] + " " + codes.UserCode[5:]} {
		if _, err := f.svc.DeviceByUserCode(alice, typed); err != nil {
			t.Errorf("typed %q: %v", typed, err)
		}
	}
}

func TestDeviceRequestRefusals(t *testing.T) {
	f := deviceFixture(t)
	for _, tc := range []struct {
		req  DeviceRequest
		code string
	}{
		{DeviceRequest{}, apitypes.OAuthInvalidRequest},
		{DeviceRequest{ClientID: "has space"}, apitypes.OAuthInvalidRequest},
		{DeviceRequest{ClientID: "c", Scope: "admin"}, apitypes.OAuthInvalidScope},
		{DeviceRequest{ClientID: "c", Name: strings.Repeat("n", 65)}, apitypes.OAuthInvalidRequest},
	} {
		_, err := f.svc.RequestDevice(tc.req, "192.0.2.1")
		wantDeviceError(t, err, tc.code)
	}
	for range deviceRequestBurst {
		if _, err := f.svc.RequestDevice(DeviceRequest{ClientID: "c"}, "192.0.2.2"); err != nil {
			t.Fatal(err)
		}
	}
	de := wantDeviceError(t, func() error { _, err := f.svc.RequestDevice(DeviceRequest{ClientID: "c"}, "192.0.2.2"); return err }(), apitypes.OAuthSlowDown)
	if de.RetryAfter <= 0 {
		t.Fatalf("a refused request has no RetryAfter: %+v", de)
	}
}

func TestDevicePendingSlowDownApprovedOnce(t *testing.T) {
	f := deviceFixture(t)
	codes := f.request(t, "pull")
	_, err := f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	wantDeviceError(t, err, apitypes.OAuthPending)
	f.clock.Advance(2 * time.Second)
	_, err = f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	de := wantDeviceError(t, err, apitypes.OAuthSlowDown)
	if !strings.Contains(de.Description, "10 seconds") {
		t.Fatalf("slow_down says %q, want the new interval of 10 seconds", de.Description)
	}
	f.clock.Advance(6 * time.Second) // 5 s would do before; now 10 are needed
	_, err = f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	wantDeviceError(t, err, apitypes.OAuthSlowDown)
	f.clock.Advance(16 * time.Second)
	_, err = f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	wantDeviceError(t, err, apitypes.OAuthPending)

	if _, err := f.svc.DecideDevice(alice, codes.UserCode, true); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if _, err := f.svc.DecideDevice(alice, codes.UserCode, false); !errors.Is(err, ErrDeviceDecided) {
		t.Fatalf("deny after approve = %v, want ErrDeviceDecided", err)
	}
	f.clock.Advance(time.Second) // an approved grant answers at once
	tok, err := f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	if err != nil {
		t.Fatalf("poll after approval: %v", err)
	}
	if !apptoken.Valid(tok.AccessToken) || tok.TokenType != "bearer" || tok.Username != "alice" || tok.Scope != "pull" || tok.TokenName != "docker-credential-portus@box" {
		t.Fatalf("token %+v", tok)
	}
	if p, err := f.svc.AuthenticateToken("alice", tok.AccessToken, "192.0.2.9"); err != nil || p.Token.CreatedVia != apitypes.ViaDevice {
		t.Fatalf("the issued token does not authenticate alice: %v", err)
	}
	// Code reuse: the device code answered once and is gone.
	_, err = f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	wantDeviceError(t, err, apitypes.OAuthInvalidGrant)
	if _, err := f.svc.DeviceByUserCode(alice, codes.UserCode); !errors.Is(err, ErrUserCodeUnknown) {
		t.Fatalf("user code after use = %v, want ErrUserCodeUnknown", err)
	}
	wantAudit(t, f, codes, "device.request", "device.approve", "token.create")
}

func TestDeviceApprovalReplacesAndCounts(t *testing.T) {
	f := deviceFixture(t)
	approveAndPoll := func() (apitypes.DeviceToken, error) {
		codes := f.request(t, "")
		if _, err := f.svc.DecideDevice(alice, codes.UserCode, true); err != nil {
			return apitypes.DeviceToken{}, err
		}
		return f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	}
	first, err := approveAndPoll()
	if err != nil {
		t.Fatal(err)
	}
	second, err := approveAndPoll()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateToken("alice", first.AccessToken, ""); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("the replaced token still works: %v", err)
	}
	for i := range 4 {
		f.token(t, "alice", "other"+string(rune('a'+i)))
	}
	// Five tokens: the device token (replaceable) and four others.
	if _, err := approveAndPoll(); err != nil {
		t.Fatalf("replacing at the limit: %v", err)
	}
	if _, err := f.svc.AuthenticateToken("alice", second.AccessToken, ""); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("the replaced token still works: %v", err)
	}
	// The device token counts in the limit...
	var limit *LimitError
	if _, err := f.svc.CreateToken(alice, "alice", NewToken{Name: "sixth", Via: "api"}); !errors.As(err, &limit) {
		t.Fatalf("a sixth token = %v, want a *LimitError", err)
	}
	// ...and a request for a new name at the limit is refused on the page.
	codes, err := f.svc.RequestDevice(DeviceRequest{ClientID: "other-client"}, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DecideDevice(alice, codes.UserCode, true); !errors.As(err, &limit) {
		t.Fatalf("approving a sixth token = %v, want a *LimitError", err)
	}
}

func TestDeviceDenied(t *testing.T) {
	f := deviceFixture(t)
	codes := f.request(t, "")
	if _, err := f.svc.DecideDevice(alice, codes.UserCode, false); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	wantDeviceError(t, err, apitypes.OAuthAccessDenied)
	_, err = f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	wantDeviceError(t, err, apitypes.OAuthInvalidGrant)
	if list, _ := f.svc.Tokens("alice"); len(list) != 0 {
		t.Fatalf("a denied request made tokens: %+v", list)
	}
	wantAudit(t, f, codes, "device.deny")
}

func TestDeviceExpired(t *testing.T) {
	f := deviceFixture(t)
	codes := f.request(t, "")
	f.clock.Advance(10 * time.Minute)
	if _, err := f.svc.DecideDevice(alice, codes.UserCode, true); !errors.Is(err, ErrUserCodeUnknown) {
		t.Fatalf("approving an expired code = %v, want ErrUserCodeUnknown", err)
	}
	_, err := f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	wantDeviceError(t, err, apitypes.OAuthExpiredToken)
	_, err = f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9")
	wantDeviceError(t, err, apitypes.OAuthInvalidGrant)
	wantAudit(t, f, codes, "device.expire")

	// Grants nobody polls are swept at a later request, and audited too.
	other := f.request(t, "")
	f.clock.Advance(11 * time.Minute)
	f.request(t, "")
	_, err = f.svc.PollDevice(other.DeviceCode, "", "192.0.2.9")
	wantDeviceError(t, err, apitypes.OAuthInvalidGrant)
	list, err := f.spy.Activities(model.ActivityQuery{})
	if err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, a := range list {
		if a.Action == "device.expire" {
			expired++
		}
	}
	if expired != 2 {
		t.Fatalf("%d device.expire entries, want 2 (one polled, one swept)", expired)
	}
}

func TestDeviceWrongCodeThrottled(t *testing.T) {
	f := deviceFixture(t)
	codes := f.request(t, "")
	for i := range userDelayAfter {
		if _, err := f.svc.DeviceByUserCode(alice, "BBBB-BBBB"); !errors.Is(err, ErrUserCodeUnknown) {
			t.Fatalf("wrong code %d = %v, want ErrUserCodeUnknown", i, err)
		}
	}
	// Now even the right code waits, as a password would.
	_, err := f.svc.DeviceByUserCode(alice, codes.UserCode)
	wantThrottled(t, err, time.Millisecond, time.Second)
	_, err = f.svc.DecideDevice(alice, codes.UserCode, true)
	wantThrottled(t, err, time.Millisecond, time.Second)
	// Malformed codes count as wrong ones, and alice's password is untouched.
	if wait := f.svc.Throttle().Wait("alice", "203.0.113.1", true); wait != 0 {
		t.Fatalf("wrong device codes throttle alice's password: %s", wait)
	}
	f.clock.Advance(2 * time.Second)
	if _, err := f.svc.DecideDevice(alice, codes.UserCode, true); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

func TestDeviceConcurrentPollsIssueOneToken(t *testing.T) {
	f := deviceFixture(t)
	codes := f.request(t, "")
	if _, err := f.svc.DecideDevice(alice, codes.UserCode, true); err != nil {
		t.Fatal(err)
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got int
	)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.svc.PollDevice(codes.DeviceCode, "", "192.0.2.9"); err == nil {
				mu.Lock()
				got++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got != 1 {
		t.Fatalf("%d concurrent polls got a token, want 1", got)
	}
}

func TestNormalizeUserCode(t *testing.T) {
	for typed, want := range map[string]string{"wdjb-mjht": "WDJBMJHT", "WDJBMJHT": "WDJBMJHT", "WDJB MJHT": "WDJBMJHT"} {
		if got, ok := NormalizeUserCode(typed); !ok || got != want {
			t.Errorf("NormalizeUserCode(%q) = %q, %v", typed, got, ok)
		}
	}
	for _, bad := range []string{"", "WDJB-MJH", "WDJB-MJHTX", "AEIO-UUUU", "WDJB-MJH0", "ＷDJB-MJHT"} {
		if _, ok := NormalizeUserCode(bad); ok {
			t.Errorf("NormalizeUserCode(%q) accepted", bad)
		}
	}
}

// wantAudit checks that the audit log holds entries of these actions, and
// neither code anywhere.
func wantAudit(t *testing.T, f *fixture, codes DeviceCodes, actions ...string) {
	t.Helper()
	list, err := f.spy.Activities(model.ActivityQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range list {
		seen[a.Action] = true
		if all := fmt.Sprintf("%+v", a); strings.Contains(all, codes.DeviceCode) || strings.Contains(all, codes.UserCode) ||
			strings.Contains(all, strings.ReplaceAll(codes.UserCode, "-", "")) {
			t.Errorf("an audit entry mentions a code: %+v", a)
		}
	}
	for _, want := range actions {
		if !seen[want] {
			t.Errorf("no %s entry in the audit log", want)
		}
	}
}
