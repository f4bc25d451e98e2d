package account

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apptoken"
)

// Leak reports: anyone who finds a ptk_ token in public (a secret scanner,
// a passer-by) may submit it without signing in, and every live token
// among those submitted is revoked at once. The answer is the same whether
// any matched: no status, body or timing tells a reporter that a string is
// a live token, so the endpoint is no oracle for guessed tokens (which
// are unguessable anyway) nor for stolen ones that may still work.
const (
	// MaxLeakReportTokens is the most tokens one report may carry.
	MaxLeakReportTokens = 100
	// LeakReportBurst reports at once per address, then one every
	// LeakReportEvery: a scanner reports in batches of up to 100 tokens,
	// so 10 a minute is 1 000 tokens a minute per address.
	LeakReportBurst = 10
	LeakReportEvery = 6 * time.Second
	// leakReportFloor is the time a report's answer takes, so that the
	// revocations a match writes do not show in the timing.
	leakReportFloor = 250 * time.Millisecond
	// maxLeakSource bounds the source URL kept in the audit entry.
	maxLeakSource = 1000
)

// LeakReportActor is the actor of the audit entries of leak reports: not a
// valid username (it holds a space), so no account can see them as its own.
const LeakReportActor = "leak report"

// leakDetail starts the audit detail of a leaked token's revocation; the
// source follows it.
const leakDetail = "reported as leaked, found at "

// LeakReportThrottledError is returned while an address has used up its
// reports (LeakReportBurst).
type LeakReportThrottledError struct{ RetryAfter time.Duration }

func (e *LeakReportThrottledError) Error() string {
	return fmt.Sprintf("too many leak reports from this address; try again in %d seconds", retrySeconds(e.RetryAfter))
}

// RetrySeconds is the Retry-After value for the wait, rounded up.
func (e *LeakReportThrottledError) RetrySeconds() int { return retrySeconds(e.RetryAfter) }

// ValidateLeakReport checks a report's shape: 1 to MaxLeakReportTokens
// strings and the absolute http(s) URL where they were found.
func ValidateLeakReport(tokens []string, source string) error {
	if len(tokens) == 0 || len(tokens) > MaxLeakReportTokens {
		return &FieldError{"tokens", fmt.Sprintf("must list 1 to %d tokens (%d given); send more in several reports", MaxLeakReportTokens, len(tokens))}
	}
	for i, t := range tokens {
		if len(t) > 200 {
			return &FieldError{"tokens", fmt.Sprintf("entry %d is %d characters long; a Portus token is %d", i, len(t), apptoken.Len)}
		}
	}
	u, err := url.Parse(source)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(source) > maxLeakSource ||
		strings.IndexFunc(source, unicode.IsControl) >= 0 {
		return &FieldError{"source", fmt.Sprintf("must be the absolute https:// URL (at most %d characters) where the tokens were found", maxLeakSource)}
	}
	return nil
}

// RevokeLeaked revokes every live token among tokens, reported from ip as
// found at source. Each owner gets an audit entry naming the source (and
// so a notice on the profile page: LeakNotices) and each revocation
// publishes token.revoked with reason "leaked". A replaced secret still
// in its rotation grace stops working instead (its grace ends; see
// endLeakedGrace). It returns nil whether or not any matched, after
// leakReportFloor; a malformed report is a *FieldError, an address over
// its limit a *LeakReportThrottledError, a queue that stays full for the
// whole floor ErrLeakQueueFull, and a report after StopLeakReports
// ErrLeakReportsStopped.
//
// The matching and the writes run in the one leak worker, so the answer
// time does not grow with the matches: the report waits for the worker up
// to the floor and answers at the floor; revocations not done by then
// finish right after (the tokens stop working within moments). Tokens
// whose lookup or write fails are retried by the worker (leakworker.go):
// a reporter answered 202 does not send the report again.
func (s *Service) RevokeLeaked(ip string, tokens []string, source string) error {
	if wait := s.leaks.take(ip); wait > 0 {
		return &LeakReportThrottledError{wait}
	}
	if err := ValidateLeakReport(tokens, source); err != nil {
		return err
	}
	floor := time.NewTimer(leakReportFloor)
	defer floor.Stop()
	job := leakJob{ip: ip, source: source, tokens: slices.Clone(tokens), done: make(chan error, 1)}
	if err := s.queueLeakReport(job, floor.C); err != nil {
		return err
	}
	select {
	case err := <-job.done:
		<-floor.C
		// A store failure is the one answer that differs: the report should
		// be sent again (the worker retries it too), and saying so tells
		// nothing about the tokens.
		return err
	case <-floor.C:
		return nil
	}
}

// processLeakReport revokes the live tokens among tokens and ends the
// grace of replaced secrets among them. It returns the tokens whose
// lookup or write failed, to be tried again, and their errors.
func (s *Service) processLeakReport(ip string, tokens []string, source string) (failed []string, err error) {
	var errs []error
	seen := map[string]bool{}
	for _, plain := range tokens {
		if seen[plain] || !apptoken.Valid(plain) {
			continue
		}
		seen[plain] = true
		hash := s.TokenHash(plain)
		t, _, err := s.store.SecretByHash(hash, s.now())
		if errors.Is(err, model.ErrNotFound) {
			continue
		}
		switch {
		case err != nil:
		case t.Retired:
			err = s.endLeakedGrace(t, hash, ip, source)
		default:
			err = s.revokeLeaked(t, ip, source)
		}
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			failed = append(failed, plain)
			errs = append(errs, err)
		}
	}
	return failed, errors.Join(errs...)
}

func (s *Service) revokeLeaked(t model.Token, ip, source string) error {
	if _, err := s.store.RevokeToken(t.Owner, t.ID); err != nil {
		return err
	}
	s.forgetUse(t.ID)
	s.audit(model.Activity{Action: "token.revoke", Actor: LeakReportActor, Subject: t.Owner, TokenName: t.Name,
		ClientIP: ip, Detail: leakDetail + source})
	s.log.Warn("revoked a token reported as leaked", "user", t.Owner, "token", t.Name, "source", source, "reporter", ip)
	e := tokenEvent(model.EventTokenRevoked, t, "leaked", ip)
	e.Source = source
	s.publish(e)
	return nil
}

// ActionLeakedGraceEnd is the audit action of a replaced secret reported
// as leaked within its rotation grace.
const ActionLeakedGraceEnd = "token.grace-end"

// endLeakedGrace stops a replaced secret, still in its grace, that was
// reported as leaked: its grace ends now, so a later use is refused and
// flagged as reuse. The token and its live secret are left alone, as for
// every use of an old secret (rotate.go): a report is anyone's to send,
// and whoever holds only an old copy must not be able to kill the live
// secret. The owner is told, and decides whether the live one leaked too.
func (s *Service) endLeakedGrace(t model.Token, hash []byte, ip, source string) error {
	if err := s.store.EndRetiredGrace(hash, s.now()); err != nil {
		return err
	}
	s.audit(model.Activity{Action: ActionLeakedGraceEnd, Actor: LeakReportActor, Subject: t.Owner, TokenName: t.Name,
		ClientIP: ip, Detail: leakDetail + source})
	s.log.Warn("ended the grace of a replaced secret reported as leaked", "user", t.Owner, "token", t.Name, "source", source, "reporter", ip)
	return nil
}

// LeakNotice is a revocation of one of a user's tokens after a leak
// report, or, with Replaced, the end of a replaced secret's grace.
type LeakNotice struct {
	Time      time.Time
	TokenName string
	Source    string
	Replaced  bool
}

// leakNoticeAge is how long the profile page shows a leak notice.
const leakNoticeAge = 30 * 24 * time.Hour

// LeakNotices returns the leak revocations of owner's tokens of the last
// 30 days, newest first, from the audit log.
func (s *Service) LeakNotices(owner string) ([]LeakNotice, error) {
	list, err := s.store.Activities(model.ActivityQuery{User: owner, Limit: 200})
	if err != nil {
		return nil, err
	}
	since := s.now().Add(-leakNoticeAge)
	var out []LeakNotice
	for _, a := range list {
		if (a.Action != "token.revoke" && a.Action != ActionLeakedGraceEnd) || a.Actor != LeakReportActor || a.Subject != owner || a.Time.Before(since) {
			continue
		}
		out = append(out, LeakNotice{Time: a.Time, TokenName: a.TokenName, Source: strings.TrimPrefix(a.Detail, leakDetail),
			Replaced: a.Action == ActionLeakedGraceEnd})
	}
	return out, nil
}
