// Package account owns the rules about people and their credentials: who
// may sign in with what, how passwords are hashed, how application tokens
// are minted, limited, looked up and revoked, the throttle on failed
// attempts and the limit on sign-ups, the batching of last-used times and
// the audit trail of all of it. HTTP handlers (api, web, the token endpoint) and the admin CLI call
// this package; it calls the store.
package account

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Errors of this package; HTTP layers map them to status codes.
var (
	// ErrAuthFailed is the one answer to every credential failure, so that a
	// client cannot tell an unknown user from a wrong password.
	ErrAuthFailed = errors.New("authentication failed")
	ErrNotFound   = errors.New("not found")
	ErrUserExists = errors.New("a user with this name already exists")
	ErrNameTaken  = errors.New("you already have a token with this name; choose another name or remove that token first")
)

// LimitError is returned when a user already holds the most tokens allowed.
type LimitError struct{ Limit int }

func (e *LimitError) Error() string {
	return fmt.Sprintf("users cannot have more than %d application tokens", e.Limit)
}

// ThrottledError is returned while a client must wait after failed attempts.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-in attempts; try again in %d seconds", retrySeconds(e.RetryAfter))
}

// RetrySeconds is the Retry-After value for the wait, rounded up.
func (e *ThrottledError) RetrySeconds() int { return retrySeconds(e.RetryAfter) }

func retrySeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// Options configure a Service.
type Options struct {
	// Pepper keys the HMAC under which tokens are stored.
	Pepper []byte
	// MaxTokens is the most application tokens a user may hold (default 5).
	MaxTokens int
	// PasswordParams are the argon2id costs (default DefaultPasswordParams).
	PasswordParams PasswordParams
	// AuditKeep is how many entries of the audit history (every action
	// but failed authentications) to keep (default 100 000; <0 all).
	AuditKeep int
	// FailureAuditKeep is how many failed-authentication entries to keep
	// (default 10 000; <0 all). Capped apart, failures that anyone can
	// cause never push the history out.
	FailureAuditKeep int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives failures of background work (default slog.Default()).
	Logger *slog.Logger
	// OnAuthFailure, if set, is told the kind of credential ("password" or
	// "token") of every failed authentication, for metrics. It is never told
	// the reason: an unauthenticated /metrics must not reveal whether a
	// username exists. It must be fast and never block.
	OnAuthFailure func(kind string)
	// Passwords add an LDAP directory and the docker_login policy (ldap.go).
	Passwords PasswordOptions
	// LoginTokens are the cap and lifetimes of login tokens (logintokens.go).
	LoginTokens LoginTokenOptions
	// TokenPolicy is the expiry policy of application tokens (expiry.go).
	TokenPolicy TokenPolicy
	// Device is the device authorization grant's timing (device.go).
	Device DeviceOptions
	// Events, if set, is told every model.Event (webhooks). It is called
	// on the request's goroutine after the change is stored, so it must
	// be quick: queue the event, never deliver it there. An error means
	// the event was not queued (it has logged why).
	Events func(model.Event) error
	// RotationGrace is how long a secret replaced by a rotation keeps
	// working (rotate.go); zero: not at all. The configuration's default
	// is config.DefaultRotationGrace.
	RotationGrace time.Duration
}

// Service implements the account rules on a store.
type Service struct {
	store    model.Store
	pepper   []byte
	max      int
	params   PasswordParams
	keep     int
	now      func() time.Time
	log      *slog.Logger
	throttle *Throttle
	signups  *addressLimit // per-address sign-up attempts
	leaks    *addressLimit // per-address leak reports (leaked.go)
	leakWork leakWorker    // the one goroutine that processes them
	onFail   func(kind string)
	// dummyHash is checked for unknown users so that their answer takes as
	// long as a wrong password. Made on first need: it costs a full argon2
	// run (and its memory) that a server may never have to spend.
	dummyOnce sync.Once
	dummyHash string
	// legacy: the imported bcrypt hashes' cost, for their dummy (legacy.go).
	legacy legacyState
	// macs reuses HMAC states keyed with the pepper: one per token lookup
	// otherwise, on the hot path of every docker command.
	macs sync.Pool

	failures failureAudit
	failKeep int // failure entries kept; keep is for the history
	reads    readLimit
	history  historyBudget

	usesMu sync.Mutex
	uses   map[string]model.TokenUse // token id → last use not yet written

	// passwords: the LDAP directory and the docker_login policy.
	passwords PasswordOptions
	login     LoginTokenOptions
	events    func(model.Event) error
	policy    TokenPolicy
	sweep     sweepState
	device    deviceState

	rotationGrace time.Duration
}

// New returns a Service. It fails only if the pepper is too short.
func New(st model.Store, opts Options) (*Service, error) {
	if len(opts.Pepper) < 32 {
		return nil, errors.New("the token pepper must be at least 32 bytes")
	}
	s := &Service{
		store:  st,
		pepper: opts.Pepper,
		max:    opts.MaxTokens,
		params: opts.PasswordParams,
		keep:   opts.AuditKeep,
		now:    opts.Now,
		log:    opts.Logger,
		uses:   map[string]model.TokenUse{},
		onFail: opts.OnAuthFailure,

		passwords: opts.Passwords,
		login:     opts.LoginTokens.withDefaults(),
		events:    opts.Events,
		policy:    opts.TokenPolicy.withDefaults(),

		rotationGrace: max(opts.RotationGrace, 0),
	}
	if s.max <= 0 {
		s.max = 5
	}
	if s.params == (PasswordParams{}) {
		s.params = DefaultPasswordParams
	}
	if s.keep == 0 {
		s.keep = 100_000
	}
	if s.failKeep = opts.FailureAuditKeep; s.failKeep == 0 {
		s.failKeep = 10_000
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.throttle = NewThrottle(s.now)
	s.device = newDeviceState(opts.Device, s.now)
	s.throttle.onLock = s.userLocked
	s.signups = newAddressLimit(s.now, SignupBurst, SignupEvery)
	s.leaks = newAddressLimit(s.now, LeakReportBurst, LeakReportEvery)
	s.macs.New = func() any { return hmac.New(sha256.New, s.pepper) }
	return s, nil
}

// MaxTokens is the per-user token limit in force.
func (s *Service) MaxTokens() int { return s.max }

// Throttle is the service's throttle, shared by every way to sign in.
func (s *Service) Throttle() *Throttle { return s.throttle }

// publish tells Options.Events about e, stamped with the service's clock.
// Most callers ignore the error: their change is made, and Events has
// logged that its event was lost.
func (s *Service) publish(e model.Event) error {
	if s.events == nil {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	return s.events(e)
}

func newID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
