package account

import (
	"context"
	"fmt"
	"time"
)

// Last-used times are kept in memory and written in batches: a write per
// request would put an fsync (or an etcd round trip) on the path of every
// docker command.

// noteUse remembers a token's use; Flush writes the batch.
func (s *Service) noteUse(id string, at time.Time) {
	s.usesMu.Lock()
	s.uses[id] = at
	s.usesMu.Unlock()
}

// Flush writes pending last-used times in one transaction. On failure they
// are kept for the next attempt.
func (s *Service) Flush() error {
	s.usesMu.Lock()
	batch := s.uses
	s.uses = map[string]time.Time{}
	s.usesMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.store.RecordTokenUse(batch)
	if err != nil {
		s.usesMu.Lock()
		for id, at := range batch {
			if cur, ok := s.uses[id]; !ok || at.After(cur) {
				s.uses[id] = at
			}
		}
		s.usesMu.Unlock()
		return fmt.Errorf("writing last-used times: %w", err)
	}
	return nil
}

// RunFlusher writes last-used times every interval until ctx ends. The
// caller flushes once more after the last request has finished.
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
			}
		}
	}
}
