package etcdstore

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

// keys builds the keys of the layout in the package documentation.
type keys struct{ prefix string }

// esc makes a name safe as one key component: no '/' survives.
func esc(name string) string { return url.PathEscape(name) }

func (k keys) authPrefix() string          { return k.prefix + "auth/" }
func (k keys) epoch() string               { return k.prefix + "auth/epoch" }
func (k keys) usersPrefix() string         { return k.prefix + "auth/users/" }
func (k keys) user(name string) string     { return k.usersPrefix() + esc(name) }
func (k keys) tokensPrefix() string        { return k.prefix + "auth/tokens/" }
func (k keys) ownerTokens(o string) string { return k.tokensPrefix() + esc(o) + "/" }
func (k keys) token(owner, name string) string {
	return k.ownerTokens(owner) + esc(name)
}
func (k keys) count(owner string) string { return k.prefix + "counts/" + esc(owner) }

// countOf is the count key of owner's tokens of kind: login tokens are
// counted apart, under their own cap.
func (k keys) countOf(owner, kind string) string {
	if kind == "" {
		return k.count(owner)
	}
	return k.prefix + "counts-" + esc(kind) + "/" + esc(owner)
}
func (k keys) firstUser() string      { return k.prefix + "meta/first-user" }
func (k keys) schema() string         { return k.prefix + "meta/schema-version" }
func (k keys) auditSeq() string       { return k.prefix + "audit/seq" }
func (k keys) auditLogPrefix() string { return k.prefix + "audit/log/" }
func (k keys) audit(id uint64) string { return auditKey(k.auditLogPrefix(), id) }
func (k keys) auditFailuresPrefix() string {
	return k.prefix + "audit/failures/"
}
func (k keys) auditUserPrefix(user string) string {
	return k.prefix + "audit/users/" + esc(user) + "/"
}
func (k keys) sessionsPrefix() string   { return k.prefix + "sessions/" }
func (k keys) session(id []byte) string { return k.sessionsPrefix() + hex.EncodeToString(id) }
func (k keys) userSessions(user string) string {
	return k.prefix + "user-sessions/" + esc(user) + "/"
}
func (k keys) userSession(user string, id []byte) string {
	return k.userSessions(user) + hex.EncodeToString(id)
}
func (k keys) secretsPrefix() string     { return k.prefix + "secrets/" }
func (k keys) secret(name string) string { return k.secretsPrefix() + esc(name) }

// isSecret reports whether key holds a shared secret.
func (k keys) isSecret(key string) bool { return strings.HasPrefix(key, k.secretsPrefix()) }

// auditKey is the key of entry id in the log or index under prefix: the
// ID in fixed width, so that keys sort as IDs do.
func auditKey(prefix string, id uint64) string { return fmt.Sprintf("%s%020d", prefix, id) }
