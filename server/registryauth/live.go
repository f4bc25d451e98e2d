package registryauth

import (
	"bytes"
	"sync/atomic"
	"time"
)

// LiveSigner is the signer of a running server: it follows the shared
// secrets, so that an activation made by any replica or admin command
// switches signing at once on the replica that made it (Refresh) and
// within ReloadInterval on the others (a loop calling Refresh). It reads
// the secrets only; creation and renewal happen in LoadOrCreateSigner.
//
// A replica never signs with a key that is not published: the key and the
// certificates it publishes come from one read of the ring, and the
// signing certificate is always part of it. A read caught in the middle of
// an activation that does not fit together keeps the signer it had.
type LiveSigner struct {
	keeper  SecretKeeper
	keyFile string
	now     func() time.Time
	cur     atomic.Pointer[Signer]
}

// NewLiveSigner returns a LiveSigner starting with s, which
// LoadOrCreateSigner returned for keeper and keyFile. A nil now means
// time.Now.
func NewLiveSigner(s *Signer, keeper SecretKeeper, keyFile string, now func() time.Time) *LiveSigner {
	if now == nil {
		now = time.Now
	}
	l := &LiveSigner{keeper: keeper, keyFile: keyFile, now: now}
	l.cur.Store(s)
	return l
}

// Current returns the signer to use now.
func (l *LiveSigner) Current() *Signer { return l.cur.Load() }

// Refresh re-reads the secrets and switches to the signer they describe.
// It reports whether the signing key or the published set changed; on an
// error the signer stays as it was.
func (l *LiveSigner) Refresh() (changed bool, err error) {
	key, alg, err := loadKey(l.keeper, "", l.keyFile, false)
	if err != nil {
		return false, err
	}
	r, err := readRing(l.keeper)
	if err != nil {
		return false, err
	}
	s, err := signerFromRing(l.keeper, key, alg, r, l.now(), false)
	if err != nil {
		return false, err
	}
	old := l.cur.Load()
	if old != nil && old.keyID == s.keyID && bytes.Equal(old.bundle, s.bundle) && old.activatedAt.Equal(s.activatedAt) {
		return false, nil
	}
	l.cur.Store(s)
	return true, nil
}

// CurrentSigner returns the signer that signs now: Live's, or Signer.
func (i *Issuer) CurrentSigner() *Signer {
	if i.Live != nil {
		return i.Live.Current()
	}
	return i.Signer
}
