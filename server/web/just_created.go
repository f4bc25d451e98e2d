package web

import (
	"sync"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

// justCreated holds a new token's value between the POST that made it and
// the one GET of the profile that shows it (post-redirect-get): a reload
// then re-reads the profile instead of re-posting the form, and the value
// never travels in a URL or a cookie. Entries are keyed by the session
// (the SHA-256 of its cookie, never the cookie itself), taken at the first
// view, and dropped after justCreatedTTL unseen.
//
// The map lives in this process's memory. With several replicas sharing an
// etcd store, the GET after the redirect must reach the replica that
// answered the POST (session affinity at the load balancer); if it reaches
// another, that replica has no value to show and the page says the token
// was created and cannot be shown again — remove it and create another.
// Nothing is lost but the one view; the token itself is in the store.
type justCreated struct {
	mu      sync.Mutex
	entries map[string]createdEntry
	now     func() time.Time
	pruned  time.Time // when expired entries were last dropped
}

type createdEntry struct {
	token apitypes.CreatedToken
	at    time.Time
}

// justCreatedTTL is how long a value waits for its one view: long enough
// for a slow redirect, short enough that a value nobody looked at does not
// stay in memory.
const justCreatedTTL = time.Minute

// justCreatedMax bounds the map: a session holds one entry, so this is
// the number of sessions creating a token within justCreatedTTL.
const justCreatedMax = 10000

func newJustCreated() *justCreated {
	return &justCreated{entries: map[string]createdEntry{}, now: time.Now}
}

// put keeps tok for the session's next profile view, replacing any value
// the session had not viewed yet. It reports false when the map is full.
func (j *justCreated) put(session string, tok apitypes.CreatedToken) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	if _, ok := j.entries[session]; !ok && (len(j.entries) >= justCreatedMax || now.Sub(j.pruned) > justCreatedTTL) {
		// Not on every put: a full scan each time would cost as much as
		// the map is large.
		for k, e := range j.entries {
			if now.Sub(e.at) > justCreatedTTL {
				delete(j.entries, k)
			}
		}
		j.pruned = now
	}
	if _, ok := j.entries[session]; !ok && len(j.entries) >= justCreatedMax {
		return false
	}
	j.entries[session] = createdEntry{token: tok, at: now}
	return true
}

// take returns and forgets the session's value if it is the token id and
// still fresh. A value for another id stays: an old tab's stale URL does
// not consume the new token's one view.
func (j *justCreated) take(session, id string) (apitypes.CreatedToken, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[session]
	if !ok || e.token.ID != id {
		return apitypes.CreatedToken{}, false
	}
	delete(j.entries, session)
	if j.now().Sub(e.at) > justCreatedTTL {
		return apitypes.CreatedToken{}, false
	}
	return e.token, true
}
