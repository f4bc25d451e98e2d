package account

import (
	"errors"
	"sync"
	"time"
)

// The leak worker: the one goroutine that matches and revokes the tokens
// of leak reports (leaked.go). A reporter answered 202 never sends its
// report again, so the worker itself retries the tokens whose lookup or
// write failed, and StopLeakReports lets it finish before the store
// closes.

// ErrLeakQueueFull: the leak worker has leakQueueLen reports waiting and
// did not take this one within the floor. It says nothing about the
// tokens reported, only that the server is busy.
var ErrLeakQueueFull = errors.New("too many leak reports are waiting to be processed; send this one again in a minute")

// ErrLeakReportsStopped: the server is shutting down and takes no more
// leak reports (StopLeakReports). Another replica, or this one once
// restarted, takes them.
var ErrLeakReportsStopped = errors.New("the server is shutting down and takes no leak reports; send this one again in a minute")

// leakQueueLen bounds the reports waiting for the worker: with the per
// address limit, a burst from many addresses waits here (or gets
// ErrLeakQueueFull) instead of spawning goroutines without bound.
const leakQueueLen = 64

// leakRetryPolicy is how failed tokens are tried again: after first, then
// twice as long each time up to max, until total has passed since the
// first failure. Stopping caps what is left at stop.
type leakRetryPolicy struct {
	first, max, total, stop time.Duration
}

// defaultLeakRetry rides out a store that fails for a few minutes (an
// etcd leader election, a full disk being cleared) without holding a
// shutdown for longer than 10 s.
var defaultLeakRetry = leakRetryPolicy{first: time.Second, max: 30 * time.Second, total: 5 * time.Minute, stop: 10 * time.Second}

type leakJob struct {
	ip, source string
	tokens     []string
	done       chan error // buffered: the worker never waits on a report gone
}

// leakRetry is a report's failed tokens waiting for their next try.
type leakRetry struct {
	job          leakJob // tokens: those still failing
	wait         time.Duration
	next, giveUp time.Time
	err          error
}

// leakWorker is the one goroutine that processes leak reports, started
// with the first report.
type leakWorker struct {
	// mu is held for reading while a report is being queued and for
	// writing to stop, so no report is sent on the closed queue.
	mu      sync.RWMutex
	stopped bool
	start   sync.Once
	jobs    chan leakJob
	exited  chan struct{}
	retry   leakRetryPolicy // defaultLeakRetry unless a test sets it
}

// queueLeakReport hands job to the worker, starting it with the first
// report, or gives up when floor fires first.
func (s *Service) queueLeakReport(job leakJob, floor <-chan time.Time) error {
	w := &s.leakWork
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.stopped {
		return ErrLeakReportsStopped
	}
	w.start.Do(func() {
		if w.retry == (leakRetryPolicy{}) {
			w.retry = defaultLeakRetry
		}
		w.jobs = make(chan leakJob, leakQueueLen)
		w.exited = make(chan struct{})
		go s.runLeakWorker(w)
	})
	select {
	case w.jobs <- job:
		return nil
	case <-floor:
		return ErrLeakQueueFull
	}
}

// StopLeakReports stops taking leak reports (later ones get
// ErrLeakReportsStopped) and returns once the worker has processed every
// report queued and retried their failed tokens for at most the policy's
// stop time. It may be called more than once. Call it before closing the store, after the HTTP servers
// stopped.
func (s *Service) StopLeakReports() {
	w := &s.leakWork
	w.mu.Lock()
	first := !w.stopped
	w.stopped = true
	w.start.Do(func() {}) // never started: it never will be
	if first && w.jobs != nil {
		close(w.jobs)
	}
	exited := w.exited
	w.mu.Unlock()
	if exited != nil {
		<-exited
	}
}

func (s *Service) runLeakWorker(w *leakWorker) {
	defer close(w.exited)
	jobs := w.jobs
	var retries []*leakRetry
	for jobs != nil || len(retries) > 0 {
		var due <-chan time.Time
		if len(retries) > 0 {
			due = time.After(time.Until(earliestLeakRetry(retries)))
		}
		select {
		case job, ok := <-jobs:
			if !ok {
				jobs = nil
				stopLeakRetries(retries, time.Now().Add(w.retry.stop))
				continue
			}
			failed, err := s.processLeakReport(job.ip, job.tokens, job.source)
			job.done <- err
			if len(failed) > 0 {
				s.log.Warn("tokens of a leak report were not processed; retrying", "tokens", len(failed), "reporter", job.ip, "err", err)
				now := time.Now()
				job.tokens = failed
				r := &leakRetry{job: job, wait: w.retry.first, next: now.Add(w.retry.first), giveUp: now.Add(w.retry.total), err: err}
				if jobs == nil {
					stopLeakRetries([]*leakRetry{r}, now.Add(w.retry.stop))
				}
				retries = append(retries, r)
			}
		case <-due:
			retries = s.retryLeaks(retries, w.retry.max)
		}
	}
}

// retryLeaks tries the retries that are due again and returns those
// still failing; one past its deadline is given up, with an error log
// that names how many tokens stay live (never the tokens).
func (s *Service) retryLeaks(retries []*leakRetry, maxWait time.Duration) []*leakRetry {
	kept := retries[:0]
	for _, r := range retries {
		now := time.Now()
		if now.Before(r.next) {
			kept = append(kept, r)
			continue
		}
		r.job.tokens, r.err = s.processLeakReport(r.job.ip, r.job.tokens, r.job.source)
		if len(r.job.tokens) == 0 {
			s.log.Info("retried tokens of a leak report are processed", "reporter", r.job.ip)
			continue
		}
		if !now.Before(r.giveUp) {
			s.log.Error("gave up on tokens of a leak report: the store kept failing, so they may still work; revoke the tokens found at the source by hand",
				"tokens", len(r.job.tokens), "reporter", r.job.ip, "source", r.job.source, "err", r.err)
			continue
		}
		r.wait = min(2*r.wait, maxWait)
		r.next = now.Add(r.wait)
		if r.next.After(r.giveUp) {
			r.next = r.giveUp // one last try at the deadline
		}
		kept = append(kept, r)
	}
	return kept
}

// stopLeakRetries, when stopping, tries every retry at once and caps
// their deadlines at stopBy.
func stopLeakRetries(retries []*leakRetry, stopBy time.Time) {
	now := time.Now()
	for _, r := range retries {
		r.giveUp = minTime(r.giveUp, stopBy)
		r.next = now
	}
}

func earliestLeakRetry(retries []*leakRetry) time.Time {
	t := retries[0].next
	for _, r := range retries[1:] {
		t = minTime(t, r.next)
	}
	return t
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
