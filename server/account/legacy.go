package account

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/portusproject/portus/server/model"
)

// Legacy password hashes: the bcrypt strings of an htpasswd file or a
// docker_auth users: map, imported as they are (ImportUsers) so that
// nobody has to choose a new password on the day of the switch. They sit
// in User.PasswordHash beside the argon2id PHC strings, told apart by
// their prefix, and live only until their owner's first successful
// sign-in, which replaces them with argon2id in the same request.
//
// Equal work: while any legacy hash may exist, every password check runs
// one bcrypt (at the highest cost imported) and one argon2id, whatever
// the account: a legacy account checks bcrypt and, wrong or right, spends
// an argon2id (the rehash, or a dummy); every other account and unknown
// names check argon2id and a dummy bcrypt. Otherwise the answer's speed
// would tell which names were imported and have not signed in since.

// MaxLegacyCost is the highest bcrypt cost ImportUsers accepts: each step
// doubles the time of every password check on the server (cost 14 is
// about a second on one core).
const MaxLegacyCost = 14

// IsLegacyHash reports whether hash is a bcrypt string ($2a$, $2b$, $2y$).
func IsLegacyHash(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

// PasswordScheme names the kind of a stored hash: "argon2id", "bcrypt"
// (imported, not yet replaced) or "" (no local password).
func PasswordScheme(hash string) string {
	switch {
	case hash == "":
		return ""
	case IsLegacyHash(hash):
		return "bcrypt"
	case strings.HasPrefix(hash, "$argon2id$"):
		return "argon2id"
	}
	return "unknown"
}

// CheckLegacyHash validates an imported hash and returns its cost. The
// error says what the hash is when it is not bcrypt.
func CheckLegacyHash(hash string) (int, error) {
	switch {
	case strings.HasPrefix(hash, "$apr1$"):
		return 0, errors.New("an MD5 (apr1) hash, which Portus does not accept: re-create the line with htpasswd -B, or give the user a new password")
	case strings.HasPrefix(hash, "{SHA}"):
		return 0, errors.New("a SHA-1 hash, which Portus does not accept: re-create the line with htpasswd -B, or give the user a new password")
	case strings.HasPrefix(hash, "$1$"), strings.HasPrefix(hash, "$5$"), strings.HasPrefix(hash, "$6$"):
		return 0, errors.New("a crypt(3) hash, which Portus does not accept: re-create the line with htpasswd -B, or give the user a new password")
	case !IsLegacyHash(hash):
		if len(hash) == 13 {
			return 0, errors.New("a DES crypt hash (or plain text), which Portus does not accept: re-create the line with htpasswd -B")
		}
		return 0, errors.New("not a bcrypt hash ($2y$, $2a$ or $2b$): re-create the line with htpasswd -B")
	case len(hash) != 60:
		return 0, fmt.Errorf("a bcrypt hash of %d characters, not 60: the line is damaged", len(hash))
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return 0, fmt.Errorf("an unreadable bcrypt hash: %w", err)
	}
	if cost > MaxLegacyCost {
		return 0, fmt.Errorf("bcrypt cost %d is above the %d Portus accepts (every password check would take that long): give the user a new password", cost, MaxLegacyCost)
	}
	return cost, nil
}

// legacyState is what the service knows of the legacy hashes in the store.
type legacyState struct {
	mu      sync.Mutex
	scanned bool
	cost    int            // highest bcrypt cost seen; 0: none
	dummies map[int]string // cost → a bcrypt hash of a dummy password
}

// legacyCost is the bcrypt cost of the dummy check: the highest cost of
// any legacy hash seen since start (the store is read once for them), 0
// when there are none. Hashes rehashed since still count: a few
// milliseconds more per check until a restart, not a timing signal.
func (s *Service) legacyCost() int {
	s.legacy.mu.Lock()
	defer s.legacy.mu.Unlock()
	if !s.legacy.scanned {
		users, err := s.store.Users()
		if err != nil {
			// Tried again at the next check; meanwhile a legacy account
			// is still checked right, only not timed equal.
			s.log.Warn("could not read the users for legacy password hashes", "err", err)
			return s.legacy.cost
		}
		s.legacy.scanned = true
		for _, u := range users {
			if IsLegacyHash(u.PasswordHash) {
				if c, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil {
					s.legacy.cost = max(s.legacy.cost, c)
				}
			}
		}
	}
	return s.legacy.cost
}

// noteLegacyCost records that a legacy hash of this cost exists.
func (s *Service) noteLegacyCost(cost int) {
	s.legacy.mu.Lock()
	s.legacy.cost = max(s.legacy.cost, min(cost, MaxLegacyCost))
	s.legacy.mu.Unlock()
}

// dummyBcrypt returns a bcrypt hash at cost, made once per cost.
func (s *Service) dummyBcrypt(cost int) string {
	s.legacy.mu.Lock()
	defer s.legacy.mu.Unlock()
	if h, ok := s.legacy.dummies[cost]; ok {
		return h
	}
	h, err := bcrypt.GenerateFromPassword([]byte("portus-dummy-password"), cost)
	if err != nil {
		s.log.Error("could not make the dummy bcrypt hash", "err", err)
		return ""
	}
	if s.legacy.dummies == nil {
		s.legacy.dummies = map[int]string{}
	}
	s.legacy.dummies[cost] = string(h)
	return string(h)
}

// verifyPassword checks password against a stored hash (argon2id or
// legacy bcrypt) with the equal work described above. For a legacy hash
// that matches it returns the argon2id hash to store in its place.
func (s *Service) verifyPassword(password, hash string) (ok bool, rehash string, err error) {
	if !IsLegacyHash(hash) {
		ok, err = checkPassword(password, hash)
		if cost := s.legacyCost(); cost > 0 {
			if d := s.dummyBcrypt(cost); d != "" {
				bcrypt.CompareHashAndPassword([]byte(d), []byte(password))
			}
		}
		return ok, "", err
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		checkPassword(password, s.dummy())
		return false, "", fmt.Errorf("%w: %w", errBadHash, err)
	}
	s.noteLegacyCost(cost)
	// A hash cheaper than the dearest imported one would answer faster than
	// an unknown name (which pays the dummy at the highest cost): pay the
	// difference so that imported users cannot be picked out by time.
	if top := s.legacyCost(); top > cost {
		if d := s.dummyBcrypt(top); d != "" {
			bcrypt.CompareHashAndPassword([]byte(d), []byte(password))
		}
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		checkPassword(password, s.dummy())
		return false, "", nil
	}
	rehash, err = HashPassword(password, s.params)
	if err != nil {
		// Signed in all the same; the rehash waits for the next sign-in.
		s.log.Error("could not rehash a legacy password", "err", err)
		return true, "", nil
	}
	return true, rehash, nil
}

// replaceLegacyHash stores the argon2id rehash of u's legacy hash, unless
// the hash changed meanwhile (a concurrent sign-in did it, or a new
// password was set), and audits it. A failure leaves the legacy hash for
// the next sign-in and does not refuse this one.
func (s *Service) replaceLegacyHash(u model.User, rehash, ip string) model.User {
	old := u.PasswordHash
	errChanged := errors.New("changed")
	nu, err := s.store.UpdateUser(u.Name, func(u *model.User) error {
		if u.PasswordHash != old {
			return errChanged
		}
		u.PasswordHash = rehash
		return nil
	})
	switch {
	case errors.Is(err, errChanged):
		return u
	case err != nil:
		s.log.Error("could not store the argon2id rehash of a legacy password", "user", u.Name, "err", err)
		return u
	}
	s.audit(model.Activity{Action: "user.password.rehash", Actor: u.Name, Subject: u.Name, ClientIP: ip,
		Detail: "imported bcrypt hash replaced by argon2id at sign-in"})
	return nu
}
