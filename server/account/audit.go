package account

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/portusproject/portus/server/model"
)

// Activities returns a page of the audit log as viewer may see it: their
// own entries, or everybody's for an administrator (optionally one user's).
func (s *Service) Activities(viewer Principal, user string, before uint64, limit int) ([]model.Activity, error) {
	// An application token never has admin reach, even an admin's: it
	// sees its owner's entries only.
	if !viewer.Admin() || viewer.Token != nil {
		user = viewer.Name()
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	if !s.reads.begin(viewer.Name()) {
		return nil, ErrBusyReading
	}
	defer s.reads.end(viewer.Name())
	return s.store.Activities(model.ActivityQuery{User: user, Before: before, Limit: limit})
}

// historyPerHour is how many history entries one actor writes an hour.
// The history's cap is shared by everyone, so without a budget one account
// (signed up, say) creating and revoking tokens in a loop would prune
// everybody's user and token history; a busy administrator's day stays far
// below it. The admin CLI on the server is not limited.
const historyPerHour = 600

// budgeted reports whether a counts against its actor's hourly budget:
// only what a user does to their own tokens and sessions, the entries a
// loop can produce. Account changes (user.*: admin rights, disabling,
// passwords, docker_login), anything done to another user, and the admin
// CLI's actions are always written.
func budgeted(a model.Activity) bool {
	if a.Actor == LocalAdminName || (a.Subject != "" && a.Subject != a.Actor) {
		return false
	}
	return strings.HasPrefix(a.Action, "token.") || strings.HasPrefix(a.Action, "session.")
}

// historyBudget counts each actor's history entries in hour-long windows.
type historyBudget struct {
	mu      sync.Mutex
	windows map[string]*historyWindow
}

type historyWindow struct {
	start            time.Time
	written, dropped int
}

// admit reports whether actor may write an entry at now and how many of
// the actor's entries were dropped: before it for an admitted entry, so
// far (this one included) for a refused one.
func (b *historyBudget) admit(actor string, now time.Time) (ok bool, dropped int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.windows == nil {
		b.windows = map[string]*historyWindow{}
	}
	w := b.windows[actor]
	if w == nil || now.Sub(w.start) >= time.Hour {
		carried := 0
		if w != nil {
			carried = w.dropped
		}
		if len(b.windows) >= 10_000 {
			for name, old := range b.windows {
				if now.Sub(old.start) >= time.Hour && old.dropped == 0 {
					delete(b.windows, name)
				}
			}
		}
		w = &historyWindow{start: now, dropped: carried}
		b.windows[actor] = w
	}
	if w.written >= historyPerHour {
		w.dropped++
		return false, w.dropped
	}
	w.written++
	dropped, w.dropped = w.dropped, 0
	return true, dropped
}

// ErrBusyReading refuses an audit-log read while the same caller already
// has maxReadsPerCaller running: one token holder must not take the
// store's time from everyone's docker logins.
var ErrBusyReading = errors.New("too many audit log reads at once for this user; wait for one to finish, then try again")

// maxReadsPerCaller is how many audit-log reads one caller may run at once.
const maxReadsPerCaller = 2

// readLimit counts the audit-log reads running per caller.
type readLimit struct {
	mu      sync.Mutex
	running map[string]int
}

func (r *readLimit) begin(caller string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		r.running = map[string]int{}
	}
	if r.running[caller] >= maxReadsPerCaller {
		return false
	}
	r.running[caller]++
	return true
}

func (r *readLimit) end(caller string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[caller]--; r.running[caller] <= 0 {
		delete(r.running, caller)
	}
}

func (s *Service) audit(a model.Activity) {
	if a.Time.IsZero() {
		a.Time = s.now().UTC()
	}
	keep := s.keep
	if a.Failure() {
		keep = s.failKeep
	} else if budgeted(a) {
		ok, dropped := s.history.admit(a.Actor, a.Time)
		if !ok {
			// Once per window: a loop the budget holds back must not flood
			// the server log instead; the next entry written counts them.
			if dropped == 1 {
				s.log.Info("an actor's audit entries are over the hourly budget: not written, counted in its next entry", "action", a.Action, "actor", a.Actor)
			}
			return
		}
		if dropped > 0 {
			a.Detail = strings.TrimSpace(a.Detail + fmt.Sprintf(" (and %d earlier entries by %s not recorded: over %d an hour)", dropped, a.Actor, historyPerHour))
		}
	}
	if err := s.store.AddActivity(a, keep); err != nil {
		s.log.Error("could not write the audit log", "action", a.Action, "actor", a.Actor, "err", err)
	}
}

// failureAudit keeps failed authentications from flooding the audit log:
// each is a synchronous write, so an unthrottled stream of failures from
// many addresses would cost an fsync each. (They go to a log of their own,
// capped apart, so they cannot push the history out.) At most one entry per claimed
// name and address per failureAuditEvery, and at most failureAuditBurst per
// second in all, are written; the next written entry counts the others.
type failureAudit struct {
	mu         sync.Mutex
	last       map[string]time.Time
	second     time.Time
	inSecond   int
	suppressed int
}

const (
	failureAuditEvery = 10 * time.Second
	failureAuditBurst = 20
	failureAuditKeys  = 10000
)

// admit reports whether a failure of name from ip at now is written, and
// how many were left out since the last one that was.
func (f *failureAudit) admit(name, ip string, now time.Time) (bool, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last == nil || len(f.last) > failureAuditKeys {
		f.last = map[string]time.Time{}
	}
	if now.Sub(f.second) >= time.Second {
		f.second, f.inSecond = now, 0
	}
	key := name + "\x00" + ip
	if t, ok := f.last[key]; (ok && now.Sub(t) < failureAuditEvery) || f.inSecond >= failureAuditBurst {
		f.suppressed++
		return false, 0
	}
	f.last[key] = now
	f.inSecond++
	n := f.suppressed
	f.suppressed = 0
	return true, n
}

func (s *Service) auditFailure(a model.Activity) {
	ok, left := s.failures.admit(a.Actor, a.ClientIP, s.now())
	if !ok {
		return
	}
	if left > 0 {
		a.Detail += fmt.Sprintf(" (%d similar failures since the last entry were not recorded)", left)
	}
	s.audit(a)
}
