package account

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portusproject/portus/server/model"
)

// Last-used times are kept in memory and written in batches: a write per
// request would put an fsync (or an etcd round trip) on the path of every
// docker command.

// noteUse remembers a token's use; Flush writes the batch.
func (s *Service) noteUse(id string, use model.TokenUse) {
	s.usesMu.Lock()
	s.uses[id] = use
	s.usesMu.Unlock()
}

// NoteClient adds the client (its User-Agent, cut to
// model.MaxClientLen) to the use that just authenticated p with a token;
// the HTTP layer calls it, as the account rules do not see headers.
func (s *Service) NoteClient(p Principal, userAgent string) {
	if p.Token == nil {
		return
	}
	client := cutClient(userAgent)
	s.usesMu.Lock()
	if u, ok := s.uses[p.Token.ID]; ok {
		u.Client = client
		s.uses[p.Token.ID] = u
	}
	s.usesMu.Unlock()
}

// cutClient is a User-Agent as a token keeps it: at most
// model.MaxClientLen bytes, cut on a character boundary, printable only.
func cutClient(ua string) string {
	var b strings.Builder
	for _, r := range ua {
		if !unicode.IsPrint(r) {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > model.MaxClientLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Flush writes pending last-used times in one transaction. On failure they
// are kept for the next attempt.
func (s *Service) Flush() error {
	s.usesMu.Lock()
	batch := s.uses
	s.uses = map[string]model.TokenUse{}
	s.usesMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.store.RecordTokenUse(batch)
	if err != nil {
		s.usesMu.Lock()
		for id, u := range batch {
			if cur, ok := s.uses[id]; !ok || u.At.After(cur.At) {
				s.uses[id] = u
			}
		}
		s.usesMu.Unlock()
		return fmt.Errorf("writing last-used times: %w", err)
	}
	return nil
}

// RunFlusher writes last-used times every interval until ctx ends, and
// sweeps expired tokens every SweepEvery (sweep.go). The caller flushes
// once more after the last request has finished.
func (s *Service) RunFlusher(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Flush(); err != nil {
				s.log.Error("batched last-used write failed; will retry", "err", err)
				continue
			}
			s.maybeSweep()
		}
	}
}
