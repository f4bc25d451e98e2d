package account

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

// Login tokens are what a `docker login` with a password leaves behind
// instead of the password: the token endpoint answers the login with a
// refresh_token, which docker keeps as its identity token. They are
// application tokens of their own kind, with their own cap (the least
// recently active is revoked to make room, so that logins never fail on
// it) and two lifetimes, since nobody chose to make them.

// LoginTokenOptions are the rules of login tokens.
type LoginTokenOptions struct {
	// Max is the most login tokens a user holds (default 10).
	Max int
	// Idle is how long a login token lasts unused (default 30 days).
	Idle time.Duration
	// MaxAge is how long a login token lasts at all (default 90 days).
	MaxAge time.Duration
}

// Defaults of LoginTokenOptions.
const (
	DefaultMaxLoginTokens   = 10
	DefaultLoginTokenIdle   = 30 * 24 * time.Hour
	DefaultLoginTokenMaxAge = 90 * 24 * time.Hour
)

func (o LoginTokenOptions) withDefaults() LoginTokenOptions {
	if o.Max <= 0 {
		o.Max = DefaultMaxLoginTokens
	}
	if o.Idle <= 0 {
		o.Idle = DefaultLoginTokenIdle
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultLoginTokenMaxAge
	}
	return o
}

// ViaDockerLogin is the "created via" of login tokens.
const ViaDockerLogin = apitypes.ViaDockerLogin

// CreateLoginToken mints a login token for the user the actor signed in
// as with a password, named after the client ("docker" when it gave no
// usable client_id) and the actor's address, made unique among the
// owner's tokens. At the cap, the least recently active login tokens are
// revoked in the same transaction, and audited.
func (s *Service) CreateLoginToken(actor Actor, owner, client string) (apitypes.CreatedToken, error) {
	// Evicting by last use needs the last uses written.
	if err := s.Flush(); err != nil {
		s.log.Warn("login token: last-used times not written; eviction may pick by older times", "err", err)
	}
	plain, err := apptoken.New()
	if err != nil {
		return apitypes.CreatedToken{}, err
	}
	id, err := newID()
	if err != nil {
		return apitypes.CreatedToken{}, err
	}
	scope, _ := NormalizeScope("")
	t := model.Token{
		ID: id, Owner: owner, Hash: s.TokenHash(plain), Scope: scope,
		CreatedAt: s.now().UTC(), CreatedVia: ViaDockerLogin, Kind: model.KindLogin,
	}
	base := loginTokenName(client, actor.IP)
	var evicted []model.Token
	// A name can be taken between the listing and the insert (two logins
	// from one address at once): then list again.
	for attempt := 0; ; attempt++ {
		if t.Name, err = s.freeName(owner, base); err != nil {
			return apitypes.CreatedToken{}, err
		}
		evicted, err = s.store.CreateLoginToken(model.NewToken{Token: t, Limit: s.login.Max})
		if !errors.Is(err, model.ErrNameTaken) || attempt == 4 {
			break
		}
	}
	switch {
	case errors.Is(err, model.ErrNotFound):
		return apitypes.CreatedToken{}, ErrNotFound
	case errors.Is(err, model.ErrNameTaken):
		return apitypes.CreatedToken{}, ErrNameTaken
	case err != nil:
		return apitypes.CreatedToken{}, err
	}
	for _, old := range evicted {
		s.forgetUse(old.ID)
		s.audit(model.Activity{Action: "token.revoke", Actor: actor.Name, Subject: owner, TokenName: old.Name, ClientIP: actor.IP,
			Detail: fmt.Sprintf("least recently used login token, revoked to make room for a new login (max_login_tokens %d)", s.login.Max)})
	}
	s.audit(model.Activity{Action: "token.create", Actor: actor.Name, Subject: owner, TokenName: t.Name, ClientIP: actor.IP,
		Detail: "login token, scope " + scope + ", via " + ViaDockerLogin})
	return WireCreatedToken(t, plain), nil
}

// loginTokenName is "CLIENT login from IP". The client_id is the
// client's to choose: only a short plain word of it is kept.
func loginTokenName(client, ip string) string {
	ok := client != "" && len(client) <= 32
	for _, r := range client {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			ok = false
		}
	}
	if !ok {
		client = "docker"
	}
	if ip == "" {
		return client + " login"
	}
	return client + " login from " + ip
}

// freeName is base, or base with the first " (N)" that owner's tokens
// do not already have.
func (s *Service) freeName(owner, base string) (string, error) {
	list, err := s.store.Tokens(owner)
	if err != nil {
		return "", err
	}
	taken := make(map[string]bool, len(list))
	for _, t := range list {
		taken[t.Name] = true
	}
	name := base
	for n := 2; taken[name]; n++ {
		name = fmt.Sprintf("%s (%d)", base, n)
	}
	return name, nil
}

// forgetUse drops a revoked token's pending last use.
func (s *Service) forgetUse(id string) {
	s.usesMu.Lock()
	delete(s.uses, id)
	s.usesMu.Unlock()
}
