package account

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// Polls of the device grant (RFC 8628 sections 3.4, 3.5). The store holds
// each grant's state and interval, which every replica reads, so that any
// replica can answer a poll. This replica's memory paces the polls it
// sees before the store is touched:
//
//   - per client address, devicePollBurst polls at once, then one every
//     devicePollEvery; more get slow_down with Retry-After (400, as RFC
//     8628 section 3.5 wants: OAuth clients take a 429 for a failure).
//     This bounds the store reads one address causes, whatever codes it
//     sends;
//   - per device code the store had at an earlier poll here,
//     deviceCodeBurst polls at once, then one per default interval; more
//     get slow_down from memory alone. Unknown codes get no bucket, so
//     that random codes cost no memory;
//   - a poll sooner than the interval after the code's previous poll here
//     gets slow_down. The first such poll of an episode makes the stored
//     interval 5 s longer — the only write a poll makes before the grant is
//     decided; the others of the episode only read, and a poll that keeps
//     the interval ends the episode.
//
// A client that spreads its polls over replicas is paced by each apart:
// the memory is a guard per replica, never the grant's state.
const (
	devicePollBurst = 30
	devicePollEvery = time.Second
	deviceCodeBurst = 4
)

// devicePolls is this replica's memory of polls.
type devicePolls struct {
	addrs, codes *addressLimit

	mu        sync.Mutex
	paces     map[string]*devicePace // by device code hash, of grants the store has
	lastSweep time.Time
}

// devicePace is what a replica remembers of one code's polls.
type devicePace struct {
	clientID string
	last     time.Time
	interval time.Duration
	slow     bool // told slow_down since the last poll that kept the interval
}

func newDevicePolls(now func() time.Time, interval time.Duration) *devicePolls {
	return &devicePolls{
		addrs: newAddressLimit(now, devicePollBurst, devicePollEvery),
		codes: newAddressLimit(now, deviceCodeBurst, interval),
		paces: map[string]*devicePace{},
	}
}

// pace counts a poll of the code key from memory: an error if it is
// answered already (another client_id, or slow_down), else whether it
// came too soon and whether it starts a slow_down episode.
func (p *devicePolls) pace(key, clientID string, now time.Time, expiry time.Duration) (soon, grow bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maybeSweep(now, expiry)
	e := p.paces[key]
	if e != nil && clientID != "" && clientID != e.clientID {
		return false, false, errOtherClient
	}
	if e == nil {
		// First poll seen here, or a code the store does not have: the
		// per-address bucket paces those, and they get no bucket of their
		// own, so that random codes cannot grow p.codes.
		return false, false, nil
	}
	if wait := p.codes.take(key); wait > 0 {
		e.last, e.slow = now, true
		return false, false, slowDown(e.interval)
	}
	soon = now.Sub(e.last) < e.interval
	grow = soon && !e.slow
	e.last, e.slow = now, soon
	return soon, grow, nil
}

// record remembers the grant as the store had it at a poll at now.
func (p *devicePolls) record(key string, g model.DeviceGrant, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.paces[key]
	if e == nil {
		e = &devicePace{last: now}
		p.paces[key] = e
	}
	e.clientID, e.interval = g.ClientID, g.Interval
}

// forget drops a code whose grant has left the store.
func (p *devicePolls) forget(key string) {
	p.mu.Lock()
	delete(p.paces, key)
	p.mu.Unlock()
	p.codes.forget(key)
}

// maybeSweep drops, at most every devicePruneEvery, codes not polled here
// for expiry: their grants have expired. Called with p.mu held.
func (p *devicePolls) maybeSweep(now time.Time, expiry time.Duration) {
	if now.Sub(p.lastSweep) < devicePruneEvery {
		return
	}
	p.lastSweep = now
	for k, e := range p.paces {
		if now.Sub(e.last) > expiry {
			delete(p.paces, k)
		}
	}
}

func slowDown(interval time.Duration) *DeviceError {
	return &DeviceError{Code: apitypes.OAuthSlowDown,
		Description: fmt.Sprintf("polling too fast; poll every %d seconds", retrySeconds(interval))}
}

// errUnchanged aborts a poll's UpdateDeviceGrant that has nothing to write.
var errUnchanged = errors.New("device grant unchanged")

// PollDevice answers a client's poll from ip with its device code: the
// token once the grant is approved, or a *DeviceError
// (authorization_pending, slow_down, access_denied, expired_token,
// invalid_grant). clientID, when not "", must be the one the code was
// issued to (RFC 6749 section 5.2).
func (s *Service) PollDevice(deviceCode, clientID, ip string) (apitypes.DeviceToken, error) {
	if deviceCode == "" {
		return apitypes.DeviceToken{}, &DeviceError{Code: apitypes.OAuthInvalidRequest, Description: "device_code is missing"}
	}
	polls := s.device.polls
	if wait := polls.addrs.take(ip); wait > 0 {
		return apitypes.DeviceToken{}, &DeviceError{Code: apitypes.OAuthSlowDown, RetryAfter: wait,
			Description: fmt.Sprintf("too many polls from this address; try again in %d seconds", retrySeconds(wait))}
	}
	hash := s.deviceHash(deviceCode)
	key := string(hash)
	now := s.now().UTC()
	soon, grow, err := polls.pace(key, clientID, now, s.device.expiry)
	if err != nil {
		return apitypes.DeviceToken{}, err
	}
	g, err := s.readPolledGrant(hash, clientID, now, grow)
	switch {
	case errors.Is(err, model.ErrNotFound):
		polls.forget(key)
		return apitypes.DeviceToken{}, errUnknownDeviceCode
	case errors.Is(err, errOtherClient):
		return apitypes.DeviceToken{}, err
	case errors.Is(err, errDeviceExpired):
		polls.forget(key)
		if g, err := s.store.TakeDeviceGrant(hash); err == nil {
			s.auditExpired(g)
		}
		return apitypes.DeviceToken{}, &DeviceError{Code: apitypes.OAuthExpiredToken,
			Description: "the code expired before it was approved; start the login again"}
	case err != nil:
		return apitypes.DeviceToken{}, err
	}
	polls.record(key, g, now)
	switch {
	case soon && g.State == model.DevicePending:
		return apitypes.DeviceToken{}, slowDown(g.Interval)
	case g.State == model.DevicePending:
		return apitypes.DeviceToken{}, &DeviceError{Code: apitypes.OAuthPending,
			Description: "waiting for the user to approve the request at " + apitypes.DevicePagePath}
	}
	polls.forget(key)
	g, err = s.store.TakeDeviceGrant(hash)
	if errors.Is(err, model.ErrNotFound) {
		return apitypes.DeviceToken{}, errUnknownDeviceCode // another poll took it
	}
	if err != nil {
		return apitypes.DeviceToken{}, err
	}
	if g.State == model.DeviceDenied {
		return apitypes.DeviceToken{}, &DeviceError{Code: apitypes.OAuthAccessDenied, Description: g.User + " denied the request in the browser"}
	}
	return s.issueDeviceToken(g)
}

// readPolledGrant reads the grant of hash for a poll, checking its client
// and expiry, and with grow makes a pending grant's interval 5 s longer:
// the one case in which a poll writes.
func (s *Service) readPolledGrant(hash []byte, clientID string, now time.Time, grow bool) (model.DeviceGrant, error) {
	var read model.DeviceGrant
	g, err := s.store.UpdateDeviceGrant(hash, func(g *model.DeviceGrant) error {
		switch {
		case clientID != "" && clientID != g.ClientID:
			return errOtherClient
		case g.Expired(now):
			return errDeviceExpired
		case !grow || g.State != model.DevicePending:
			read = *g
			return errUnchanged
		}
		g.Interval += deviceSlowDown
		g.LastPoll = now
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return read, nil
	}
	return g, err
}
