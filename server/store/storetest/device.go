package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portusproject/portus/server/model"
)

var deviceTests = []subtest{
	{"CreateAndLookUpByUserCode", testDeviceCreateLookup},
	{"CodesAreUnique", testDeviceCodesUnique},
	{"Update", testDeviceUpdate},
	{"UpdateAbortsOnError", testDeviceUpdateAborts},
	{"TakeIsSingleUse", testDeviceTakeOnce},
	{"TakeConcurrent", testDeviceTakeConcurrent},
	{"Prune", testDevicePrune},
}

func newDeviceGrant(created time.Time, ttl time.Duration) model.DeviceGrant {
	d, u := make([]byte, 32), make([]byte, 32)
	rand.Read(d)
	rand.Read(u)
	return model.DeviceGrant{
		DeviceHash: d, UserHash: u, ClientID: "docker-credential-portus", TokenName: "docker-credential-portus@box",
		Scope: "push", ClientIP: "192.0.2.7", CreatedAt: created, ExpiresAt: created.Add(ttl),
		Interval: 5 * time.Second, State: model.DevicePending,
	}
}

func mustCreateDeviceGrant(t *testing.T, s model.Store, g model.DeviceGrant) {
	t.Helper()
	if err := s.CreateDeviceGrant(g); err != nil {
		t.Fatalf("CreateDeviceGrant: %v", err)
	}
}

func deviceDiff(t *testing.T, got, want model.DeviceGrant) {
	t.Helper()
	if !bytes.Equal(got.DeviceHash, want.DeviceHash) || !bytes.Equal(got.UserHash, want.UserHash) ||
		got.ClientID != want.ClientID || got.TokenName != want.TokenName || got.Scope != want.Scope ||
		got.ClientIP != want.ClientIP || !sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.ExpiresAt, want.ExpiresAt) ||
		got.Interval != want.Interval || !sameTime(got.LastPoll, want.LastPoll) || got.State != want.State ||
		got.User != want.User || got.DecidedFrom != want.DecidedFrom || !sameTime(got.DecidedAt, want.DecidedAt) {
		t.Fatalf("got grant %+v, want %+v", got, want)
	}
}

func testDeviceCreateLookup(t *testing.T, s model.Store) {
	g := newDeviceGrant(now(), 10*time.Minute)
	mustCreateDeviceGrant(t, s, g)
	got, err := s.DeviceGrantByUserCode(g.UserHash)
	if err != nil {
		t.Fatalf("DeviceGrantByUserCode: %v", err)
	}
	deviceDiff(t, got, g)
	other := newDeviceGrant(now(), time.Minute)
	for _, h := range [][]byte{other.UserHash, nil, g.DeviceHash} {
		if _, err := s.DeviceGrantByUserCode(h); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("DeviceGrantByUserCode(%x) = %v, want ErrNotFound", h, err)
		}
	}
}

func testDeviceCodesUnique(t *testing.T, s model.Store) {
	g := newDeviceGrant(now(), time.Minute)
	mustCreateDeviceGrant(t, s, g)
	sameDevice, sameUser := newDeviceGrant(now(), time.Minute), newDeviceGrant(now(), time.Minute)
	sameDevice.DeviceHash, sameUser.UserHash = g.DeviceHash, g.UserHash
	for _, dup := range []model.DeviceGrant{sameDevice, sameUser} {
		if err := s.CreateDeviceGrant(dup); !errors.Is(err, model.ErrDeviceCodeTaken) {
			t.Errorf("CreateDeviceGrant of a taken code = %v, want ErrDeviceCodeTaken", err)
		}
	}
	// The refused ones left nothing behind.
	if _, err := s.DeviceGrantByUserCode(sameDevice.UserHash); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a refused grant's user code: %v, want ErrNotFound", err)
	}
}

func testDeviceUpdate(t *testing.T, s model.Store) {
	g := newDeviceGrant(now(), time.Minute)
	mustCreateDeviceGrant(t, s, g)
	at := now().Add(time.Second)
	got, err := s.UpdateDeviceGrant(g.DeviceHash, func(d *model.DeviceGrant) error {
		d.State, d.User, d.DecidedFrom, d.DecidedAt, d.LastPoll = model.DeviceApproved, "alice", "198.51.100.1", at, at
		d.Interval += 5 * time.Second
		d.DeviceHash, d.UserHash = []byte("x"), []byte("y") // ignored
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateDeviceGrant: %v", err)
	}
	want := g
	want.State, want.User, want.DecidedFrom, want.DecidedAt, want.LastPoll, want.Interval = model.DeviceApproved, "alice", "198.51.100.1", at, at, 10*time.Second
	deviceDiff(t, got, want)
	stored, err := s.DeviceGrantByUserCode(g.UserHash)
	if err != nil {
		t.Fatalf("DeviceGrantByUserCode after update: %v", err)
	}
	deviceDiff(t, stored, want)
	if _, err := s.UpdateDeviceGrant(newDeviceGrant(now(), time.Minute).DeviceHash, func(*model.DeviceGrant) error { return nil }); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("UpdateDeviceGrant of an unknown grant = %v, want ErrNotFound", err)
	}
}

func testDeviceUpdateAborts(t *testing.T, s model.Store) {
	g := newDeviceGrant(now(), time.Minute)
	mustCreateDeviceGrant(t, s, g)
	stop := errors.New("stop")
	_, err := s.UpdateDeviceGrant(g.DeviceHash, func(d *model.DeviceGrant) error {
		d.State = model.DeviceDenied
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("UpdateDeviceGrant with a failing change = %v, want its error", err)
	}
	stored, err := s.DeviceGrantByUserCode(g.UserHash)
	if err != nil {
		t.Fatal(err)
	}
	deviceDiff(t, stored, g)
}

func testDeviceTakeOnce(t *testing.T, s model.Store) {
	g := newDeviceGrant(now(), time.Minute)
	mustCreateDeviceGrant(t, s, g)
	got, err := s.TakeDeviceGrant(g.DeviceHash)
	if err != nil {
		t.Fatalf("TakeDeviceGrant: %v", err)
	}
	deviceDiff(t, got, g)
	if _, err := s.TakeDeviceGrant(g.DeviceHash); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("second TakeDeviceGrant = %v, want ErrNotFound", err)
	}
	if _, err := s.DeviceGrantByUserCode(g.UserHash); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("DeviceGrantByUserCode after take = %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateDeviceGrant(g.DeviceHash, func(*model.DeviceGrant) error { return nil }); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("UpdateDeviceGrant after take = %v, want ErrNotFound", err)
	}
	// The same user code can be given out again once its grant is gone.
	again := newDeviceGrant(now(), time.Minute)
	again.UserHash = g.UserHash
	mustCreateDeviceGrant(t, s, again)
}

func testDeviceTakeConcurrent(t *testing.T, s model.Store) {
	g := newDeviceGrant(now(), time.Minute)
	mustCreateDeviceGrant(t, s, g)
	var (
		wg      sync.WaitGroup
		won     atomic.Int32
		failure atomic.Value
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.TakeDeviceGrant(g.DeviceHash)
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, model.ErrNotFound):
				failure.Store(err)
			}
		}()
	}
	wg.Wait()
	if err, _ := failure.Load().(error); err != nil {
		t.Fatalf("TakeDeviceGrant: %v", err)
	}
	if won.Load() != 1 {
		t.Fatalf("%d of 8 concurrent takers got the grant, want exactly 1", won.Load())
	}
}

func testDevicePrune(t *testing.T, s model.Store) {
	base := now()
	old := newDeviceGrant(base.Add(-time.Hour), 10*time.Minute)
	edge := newDeviceGrant(base.Add(-10*time.Minute), 10*time.Minute)
	live := newDeviceGrant(base, 10*time.Minute)
	for _, g := range []model.DeviceGrant{old, edge, live} {
		mustCreateDeviceGrant(t, s, g)
	}
	gone, err := s.PruneDeviceGrants(base)
	if err != nil {
		t.Fatalf("PruneDeviceGrants: %v", err)
	}
	if len(gone) != 2 {
		t.Fatalf("PruneDeviceGrants removed %d grants, want 2 (expired before and at the time)", len(gone))
	}
	for _, g := range []model.DeviceGrant{old, edge} {
		if _, err := s.DeviceGrantByUserCode(g.UserHash); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("an expired grant is still there: %v", err)
		}
	}
	if _, err := s.DeviceGrantByUserCode(live.UserHash); err != nil {
		t.Errorf("the live grant: %v", err)
	}
	if again, err := s.PruneDeviceGrants(base); err != nil || len(again) != 0 {
		t.Errorf("second PruneDeviceGrants = %d, %v; want none", len(again), err)
	}
}
