package account

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Web sessions. A browser proves its password once (AuthenticatePassword)
// and then carries a session cookie: 32 random bytes, base64url. The store
// keeps only SHA-256 of the cookie value as the session's id, with the
// user, a random CSRF token and two times: created (for the absolute
// timeout) and last seen (for the idle timeout, written at most once a
// minute so that a page view is not a disk write). Application tokens never
// start a session.

// Default session timeouts.
const (
	DefaultSessionIdle   = 12 * time.Hour
	DefaultSessionMaxAge = 7 * 24 * time.Hour
)

// touchEvery is how stale LastSeen may get before a request writes it.
const touchEvery = time.Minute

// pruneEvery is how often, at most, starting a session also removes the
// expired ones from the store.
const pruneEvery = 10 * time.Minute

// sessionSecretLen is the size of the random cookie secret in bytes.
const sessionSecretLen = 32

// ErrNoSession is returned for a cookie that opens no session: unknown,
// malformed, expired, or of a disabled user.
var ErrNoSession = errors.New("no valid session; sign in again")

// SessionLimits are the timeouts of web sessions; zero means the default.
type SessionLimits struct {
	// Idle ends a session that made no request for this long.
	Idle time.Duration
	// MaxAge ends a session this long after sign-in, however active.
	MaxAge time.Duration
}

// Sessions starts, finds and ends web sessions. Get one from
// Service.Sessions; it is safe for concurrent use.
type Sessions struct {
	svc    *Service
	limits SessionLimits
	// formKey signs values that web forms and cookies carry outside a
	// session (the pre-session CSRF token, flash messages). It is derived
	// from the token pepper, so it survives restarts and is the same on
	// every server that shares the pepper.
	formKey []byte

	pruneMu   sync.Mutex
	lastPrune time.Time
}

// SessionCookie is the name of the web session cookie. The web UI sets it;
// the JSON API accepts it too, with the session's CSRF token in the
// CSRFHeader header.
const (
	SessionCookie = "portus_session"
	CSRFHeader    = "X-CSRF-Token"
)

// Sessions returns the session manager of the service with these limits.
func (s *Service) Sessions(l SessionLimits) *Sessions {
	if l.Idle <= 0 {
		l.Idle = DefaultSessionIdle
	}
	if l.MaxAge <= 0 {
		l.MaxAge = DefaultSessionMaxAge
	}
	m := hmac.New(sha256.New, s.pepper)
	m.Write([]byte("portus web form key v1"))
	return &Sessions{svc: s, limits: l, formKey: m.Sum(nil)}
}

// Limits returns the timeouts in force.
func (m *Sessions) Limits() SessionLimits { return m.limits }

// sessionID is the stored id of a cookie value.
func sessionID(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// wellFormed reports whether a cookie value can be a session secret, so
// that garbage never reaches the store.
func wellFormed(secret string) bool {
	b, err := base64.RawURLEncoding.DecodeString(secret)
	return err == nil && len(b) == sessionSecretLen
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Start opens a session for a principal that has just proved its password
// and returns the cookie value (shown to nobody else, stored nowhere) and
// the session. A principal authenticated by an application token, or the
// admin socket, cannot have a session. Call End for the browser's previous
// session, if any, so that every sign-in gets a new id.
func (m *Sessions) Start(p Principal, ip string) (string, model.Session, error) {
	if p.Token != nil || p.Local || p.User.Name == "" {
		return "", model.Session{}, errors.New("only a password sign-in starts a web session")
	}
	if p.User.Disabled {
		return "", model.Session{}, ErrAuthFailed
	}
	secret, err := randomString(sessionSecretLen)
	if err != nil {
		return "", model.Session{}, err
	}
	csrf, err := randomString(32)
	if err != nil {
		return "", model.Session{}, err
	}
	now := m.svc.now().UTC()
	sess := model.Session{ID: sessionID(secret), User: p.User.Name, CSRFToken: csrf, CreatedAt: now, LastSeen: now}
	err = m.svc.store.CreateSession(sess)
	if errors.Is(err, model.ErrNotFound) {
		return "", model.Session{}, ErrNotFound
	}
	if err != nil {
		return "", model.Session{}, err
	}
	m.svc.audit(model.Activity{Action: "session.start", Actor: p.User.Name, ClientIP: ip, Detail: "web sign-in"})
	m.prune(now)
	return secret, sess, nil
}

// Lookup returns the signed-in user of a cookie value and the session. It
// refuses (ErrNoSession) unknown and malformed values, sessions past either
// timeout (which it deletes) and users that are disabled or gone. It
// writes the last-seen time at most once a minute per session.
func (m *Sessions) Lookup(secret string) (Principal, model.Session, error) {
	if !wellFormed(secret) {
		return Principal{}, model.Session{}, ErrNoSession
	}
	id := sessionID(secret)
	sess, u, err := m.svc.store.SessionByID(id)
	if errors.Is(err, model.ErrNotFound) {
		return Principal{}, model.Session{}, ErrNoSession
	}
	if err != nil {
		return Principal{}, model.Session{}, err
	}
	now := m.svc.now()
	if subtle.ConstantTimeCompare(sess.ID, id) != 1 {
		return Principal{}, model.Session{}, ErrNoSession
	}
	if now.Sub(sess.CreatedAt) >= m.limits.MaxAge || now.Sub(sess.LastSeen) >= m.limits.Idle || u.Disabled {
		if err := m.svc.store.DeleteSession(id); err != nil {
			m.svc.log.Error("could not delete an ended session", "user", sess.User, "err", err)
		}
		return Principal{}, model.Session{}, ErrNoSession
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		if err := m.svc.store.TouchSession(id, now.UTC()); err != nil && !errors.Is(err, model.ErrNotFound) {
			// Not fatal: the session stays valid until its idle timeout.
			m.svc.log.Error("could not record session activity", "user", sess.User, "err", err)
		}
		sess.LastSeen = now.UTC()
	}
	return Principal{User: u}, sess, nil
}

// End deletes the session of a cookie value (sign-out). An unknown value is
// not an error. actor is recorded in the audit log.
func (m *Sessions) End(actor Actor, secret string) error {
	if !wellFormed(secret) {
		return nil
	}
	if err := m.svc.store.DeleteSession(sessionID(secret)); err != nil {
		return err
	}
	if actor.Name != "" {
		m.svc.audit(model.Activity{Action: "session.end", Actor: actor.Name, ClientIP: actor.IP, Detail: "web sign-out"})
	}
	return nil
}

// prune removes expired sessions, at most once every pruneEvery.
func (m *Sessions) prune(now time.Time) {
	m.pruneMu.Lock()
	if now.Sub(m.lastPrune) < pruneEvery {
		m.pruneMu.Unlock()
		return
	}
	m.lastPrune = now
	m.pruneMu.Unlock()
	if _, err := m.svc.store.PruneSessions(now.Add(-m.limits.MaxAge), now.Add(-m.limits.Idle)); err != nil {
		m.svc.log.Error("could not prune expired sessions", "err", err)
	}
}

// Sign returns a MAC of value for purpose under the form key, for values
// that a browser carries and must not be able to forge (a pre-session CSRF
// token bound to its cookie, a flash message).
func (m *Sessions) Sign(purpose, value string) string {
	mac := hmac.New(sha256.New, m.formKey)
	mac.Write([]byte(purpose))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Verify reports, in constant time, whether sig is Sign(purpose, value).
func (m *Sessions) Verify(purpose, value, sig string) bool {
	return subtle.ConstantTimeCompare([]byte(m.Sign(purpose, value)), []byte(sig)) == 1
}
