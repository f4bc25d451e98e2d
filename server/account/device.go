package account

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
)

// The device authorization grant (RFC 8628): a client with no browser asks
// for a pair of codes (RequestDevice), shows the user code, and polls with
// the device code (PollDevice) while the user, signed in on the web,
// approves or denies it (device_approve.go). A grant's life:
//
//	pending ──approve──▶ approved ──poll──▶ token issued, grant gone
//	   │ └────deny────▶ denied ─────poll──▶ access_denied, grant gone
//	   └──── expiry ───────────────────────▶ expired_token, grant gone
//
// Polls come no faster than the interval, or get slow_down and a longer
// interval; they are paced in memory before the store is read, and write
// the grant only to lengthen its interval (device_poll.go). A grant answers one final poll (TakeDeviceGrant): a device
// code is single-use. Both codes are stored only as HMACs under the
// pepper. Wrong user codes on the approval page are counted by the
// sign-in throttle, per user and per address, like wrong passwords.

// DeviceOptions set the grant's timing; zero values take the defaults.
type DeviceOptions struct {
	// Expiry is how long a device code waits for approval (default 10 min).
	Expiry time.Duration
	// Interval is the least time between polls (default 5 s).
	Interval time.Duration
}

const (
	defaultDeviceExpiry   = 10 * time.Minute
	defaultDeviceInterval = 5 * time.Second
	// deviceSlowDown is how much longer the interval gets for each poll
	// that comes too soon (RFC 8628 section 3.5).
	deviceSlowDown = 5 * time.Second
	// Device codes per client address: 10 at once, then one a minute. A
	// request writes a grant and an audit entry without any credential.
	deviceRequestBurst = 10
	deviceRequestEvery = time.Minute
	// devicePruneEvery spaces the sweeps of expired grants.
	devicePruneEvery = time.Minute
)

// deviceState is the Service's part of the grant.
type deviceState struct {
	expiry, interval time.Duration
	requests         *addressLimit
	polls            *devicePolls // device_poll.go
	lastPrune        atomic.Int64 // unix nanoseconds of the last sweep
}

func newDeviceState(o DeviceOptions, now func() time.Time) deviceState {
	if o.Expiry <= 0 {
		o.Expiry = defaultDeviceExpiry
	}
	if o.Interval <= 0 {
		o.Interval = defaultDeviceInterval
	}
	return deviceState{expiry: o.Expiry, interval: o.Interval, requests: newAddressLimit(now, deviceRequestBurst, deviceRequestEvery),
		polls: newDevicePolls(now, o.Interval)}
}

// DeviceExpiry is how long a device code waits for approval.
func (s *Service) DeviceExpiry() time.Duration { return s.device.expiry }

// DeviceError is an OAuth error of the grant: Code is one of the
// apitypes.OAuth* codes, Description says what happened and what to do.
type DeviceError struct {
	Code        string
	Description string
	// RetryAfter is set when the client must wait (too many requests).
	RetryAfter time.Duration
}

func (e *DeviceError) Error() string { return e.Code + ": " + e.Description }

// RetrySeconds is the Retry-After value for RetryAfter, rounded up.
func (e *DeviceError) RetrySeconds() int { return retrySeconds(e.RetryAfter) }

// DeviceRequest is what a client asks for.
type DeviceRequest struct {
	ClientID string
	// Scope is pull, push or delete ("" is push, as for any token).
	Scope string
	// Name is the token's name; "" names it after ClientID.
	Name string
}

// DeviceCodes is the answer to a DeviceRequest.
type DeviceCodes struct {
	DeviceCode string
	// UserCode is shown as FormatUserCode gives it: "WDJB-MJHT".
	UserCode  string
	ExpiresIn time.Duration
	Interval  time.Duration
}

// RequestDevice starts a grant for a client at ip. Errors are *DeviceError.
func (s *Service) RequestDevice(req DeviceRequest, ip string) (DeviceCodes, error) {
	if err := validClientID(req.ClientID); err != nil {
		return DeviceCodes{}, err
	}
	if req.Name == "" {
		req.Name = req.ClientID
	}
	if err := ValidateTokenName(req.Name); err != nil {
		return DeviceCodes{}, &DeviceError{Code: apitypes.OAuthInvalidRequest, Description: err.Error()}
	}
	scope, err := NormalizeScope(req.Scope)
	if err != nil {
		return DeviceCodes{}, &DeviceError{Code: apitypes.OAuthInvalidScope, Description: err.Error()}
	}
	if wait := s.device.requests.take(ip); wait > 0 {
		return DeviceCodes{}, &DeviceError{Code: apitypes.OAuthSlowDown, RetryAfter: wait,
			Description: fmt.Sprintf("too many device codes requested from this address; try again in %d seconds", retrySeconds(wait))}
	}
	s.pruneDevices()
	now := s.now().UTC()
	g := model.DeviceGrant{ClientID: req.ClientID, TokenName: req.Name, Scope: scope, ClientIP: ip,
		CreatedAt: now, ExpiresAt: now.Add(s.device.expiry), Interval: s.device.interval, State: model.DevicePending}
	var codes DeviceCodes
	for range 3 { // a collision of 8 letters with a live grant is rare; twice, rarer still
		device, user, err := newDeviceCodes()
		if err != nil {
			return DeviceCodes{}, err
		}
		g.DeviceHash, g.UserHash = s.deviceHash(device), s.userCodeHash(user)
		err = s.store.CreateDeviceGrant(g)
		if errors.Is(err, model.ErrDeviceCodeTaken) {
			continue
		}
		if err != nil {
			return DeviceCodes{}, err
		}
		codes = DeviceCodes{DeviceCode: device, UserCode: FormatUserCode(user), ExpiresIn: s.device.expiry, Interval: s.device.interval}
		break
	}
	if codes.DeviceCode == "" {
		return DeviceCodes{}, errors.New("could not draw an unused user code in three attempts")
	}
	s.audit(model.Activity{Action: "device.request", TokenName: g.TokenName, ClientIP: ip,
		Detail: fmt.Sprintf("client %s asked for a %s token; the code expires at %s", g.ClientID, scope, g.ExpiresAt.Format(time.RFC3339))})
	return codes, nil
}

func validClientID(id string) error {
	bad := id == "" || !utf8.ValidString(id) || utf8.RuneCountInString(id) > 64
	for _, r := range id {
		bad = bad || !unicode.IsPrint(r) || unicode.IsSpace(r)
	}
	if bad {
		return &DeviceError{Code: apitypes.OAuthInvalidRequest, Description: "client_id: must be 1 to 64 printable characters without spaces, such as docker-credential-portus"}
	}
	return nil
}

// errDeviceExpired aborts a poll's read of an expired grant, and
// errOtherClient one that names another client_id than the request did.
var (
	errDeviceExpired = errors.New("device code expired")
	errOtherClient   = &DeviceError{Code: apitypes.OAuthInvalidGrant, Description: "this device_code was issued to another client_id"}
)

var errUnknownDeviceCode = &DeviceError{Code: apitypes.OAuthInvalidGrant,
	Description: "unknown device_code: it was never issued, or has been used already; start the login again"}

// issueDeviceToken creates the application token of an approved grant,
// as the approver, replacing their token of the same name.
func (s *Service) issueDeviceToken(g model.DeviceGrant) (apitypes.DeviceToken, error) {
	deny := func(why string) (apitypes.DeviceToken, error) {
		return apitypes.DeviceToken{}, &DeviceError{Code: apitypes.OAuthAccessDenied, Description: why}
	}
	u, err := s.store.User(g.User)
	if errors.Is(err, model.ErrNotFound) || (err == nil && u.Disabled) {
		return deny("the account that approved the request is disabled or gone")
	}
	if err != nil {
		return apitypes.DeviceToken{}, err
	}
	created, err := s.CreateToken(Actor{Name: g.User, IP: g.DecidedFrom}, g.User,
		NewToken{Name: g.TokenName, Scope: g.Scope, Replace: true, Via: apitypes.ViaDevice})
	var limit *LimitError
	if errors.As(err, &limit) {
		return deny(limit.Error() + "; revoke one on your profile page and log in again")
	}
	if err != nil {
		return apitypes.DeviceToken{}, err
	}
	return apitypes.DeviceToken{AccessToken: created.Token, TokenType: "bearer", Scope: created.Scope,
		Username: g.User, TokenID: created.ID, TokenName: created.Name}, nil
}

// pruneDevices removes expired grants, at most every devicePruneEvery, and
// records each in the audit log.
func (s *Service) pruneDevices() {
	now := s.now()
	last := s.device.lastPrune.Load()
	if now.UnixNano()-last < int64(devicePruneEvery) || !s.device.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	gone, err := s.store.PruneDeviceGrants(now)
	if err != nil {
		s.log.Error("could not remove expired device codes", "err", err)
	}
	for _, g := range gone {
		s.auditExpired(g)
	}
}

func (s *Service) auditExpired(g model.DeviceGrant) {
	detail := fmt.Sprintf("client %s, requested from %s at %s", g.ClientID, g.ClientIP, g.CreatedAt.Format(time.RFC3339))
	switch g.State {
	case model.DevicePending:
		detail += ", never approved"
	default:
		detail += ", " + g.State + " by " + g.User + " but never collected"
	}
	s.audit(model.Activity{Action: "device.expire", Actor: g.User, TokenName: g.TokenName, ClientIP: g.ClientIP, Detail: detail})
}

// userCodeAlphabet has no vowels (no words), and none of 0/O, 1/I/L, 5/S
// style look-alikes in the letters that remain ambiguous when read aloud.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
)

// newDeviceCodes draws a device code (256 random bits) and a user code
// (8 letters of userCodeAlphabet, about 34.6 bits, uniformly).
func newDeviceCodes() (device, user string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	device = base64.RawURLEncoding.EncodeToString(b)
	var code []byte
	for len(code) < userCodeLen {
		if _, err := rand.Read(b); err != nil {
			return "", "", err
		}
		for _, c := range b {
			// 240 is the largest multiple of 20 below 256: no bias.
			if c < 240 && len(code) < userCodeLen {
				code = append(code, userCodeAlphabet[int(c)%len(userCodeAlphabet)])
			}
		}
	}
	return device, string(code), nil
}

// NormalizeUserCode returns the 8 letters of a user code as typed — any
// case, with or without the dash or spaces — or false if it cannot be one.
func NormalizeUserCode(typed string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || unicode.IsSpace(r):
			continue
		case r > unicode.MaxASCII || !strings.ContainsRune(userCodeAlphabet, r):
			return "", false
		}
		b.WriteRune(r)
	}
	return b.String(), b.Len() == userCodeLen
}

// FormatUserCode shows the 8 letters as two groups of four: "WDJB-MJHT".
func FormatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// deviceHash and userCodeHash are the stored forms of the codes: the
// token HMAC, with a prefix each so that no code hashes like a token.
func (s *Service) deviceHash(code string) []byte   { return s.TokenHash("device-code:" + code) }
func (s *Service) userCodeHash(code string) []byte { return s.TokenHash("user-code:" + code) }
