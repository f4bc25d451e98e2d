package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// load is one run: what its workers share.
type load struct {
	opts        options
	creds       []cred
	revokeLines []string
	client      *http.Client
	rawTarget   *url.URL // the -url for the minimal client; nil: net/http
	out         *bufio.Writer
	outMu       sync.Mutex

	measureFrom, end time.Time
	seq              atomic.Int64 // request numbers (create names, cred rotation)
	next             atomic.Int64 // revoke: next line
	measured         atomic.Int64
	exhausted        atomic.Bool
	errOnce          sync.Once
	firstErr         string
}

// workerStats are one worker's measured requests.
type workerStats struct {
	lat    []int64
	ok     int
	errs   int
	status map[int]int
}

// newLoad prepares a run of opts: credentials, the revoke lines, the
// clients and the -out file, which closeOut flushes and closes.
func newLoad(opts options) (l *load, closeOut func()) {
	l = &load{opts: opts, creds: credentials(opts)}
	if opts.mode == "revoke" {
		var err error
		if l.revokeLines, err = readLines(opts.in); err != nil {
			fatal(err)
		}
	}
	tr := &http.Transport{
		MaxIdleConns:        opts.clients,
		MaxIdleConnsPerHost: opts.clients,
		MaxConnsPerHost:     opts.clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	if opts.unix != "" {
		sock := opts.unix
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
	}
	l.client = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	plainGet := opts.body == "" && opts.method == http.MethodGet
	formPost := opts.form && opts.method == http.MethodPost
	if opts.raw && opts.mode == "fixed" && opts.unix == "" && (plainGet || formPost) {
		if u, err := url.Parse(opts.target); err == nil && u.Scheme == "http" {
			l.rawTarget = u
		}
	}
	closeOut = func() {}
	if opts.out != "" {
		f, err := os.Create(opts.out)
		if err != nil {
			fatal(err)
		}
		l.out = bufio.NewWriter(f)
		closeOut = func() {
			_ = l.out.Flush()
			_ = f.Close()
		}
	}
	return l, closeOut
}

// run keeps -c workers busy for the warm-up and the measured duration and
// returns their stats and the measured window.
func (l *load) run() ([]*workerStats, window) {
	win := window{start: time.Now()}
	win.measureFrom = win.start.Add(l.opts.warmup)
	l.measureFrom, l.end = win.measureFrom, win.measureFrom.Add(l.opts.dur)
	cpuTimer := time.AfterFunc(l.opts.warmup, func() { win.cpuFrom = cpuTime() })
	stats := make([]*workerStats, l.opts.clients)
	var wg sync.WaitGroup
	for w := range stats {
		ws := &workerStats{lat: make([]int64, 0, 1<<14), status: map[int]int{}}
		stats[w] = ws
		var rc *rawConn
		if l.rawTarget != nil {
			rc = &rawConn{addr: l.rawTarget.Host}
		}
		wg.Go(func() { l.work(ws, rc) })
	}
	wg.Wait()
	win.stop = time.Now()
	cpuTimer.Stop()
	win.cpuStop = cpuTime()
	return stats, win
}

// work is one worker: requests one after the other until the run ends, the
// revoke lines run out or -max requests were measured. rc is its
// connection of the minimal client, nil for net/http.
func (l *load) work(ws *workerStats, rc *rawConn) {
	if rc != nil {
		defer rc.close()
	}
	for {
		t0 := time.Now()
		if t0.After(l.end) || l.exhausted.Load() {
			return
		}
		u, hdr, rd, ok := l.nextRequest()
		if !ok {
			return
		}
		var (
			respBody []byte
			status   int
			err      error
		)
		if rc != nil {
			form := ""
			if l.opts.form {
				form = l.opts.body
			}
			status, err = rc.do(rawRequest(l.rawTarget, u, hdr, form))
		} else {
			status, respBody, err = stdDo(l.client, l.opts.method, u, rd, hdr, l.contentType(), l.opts.mode == "create")
		}
		t1 := time.Now()
		if err == nil && status != l.opts.expect {
			err = fmt.Errorf("status %d", status)
		}
		if err != nil {
			l.errOnce.Do(func() { l.firstErr = err.Error() })
		}
		l.saveCreated(respBody)
		if t0.Before(l.measureFrom) {
			continue
		}
		ws.lat = append(ws.lat, int64(t1.Sub(t0)))
		ws.status[status]++
		if status == l.opts.expect && err == nil {
			ws.ok++
		} else {
			ws.errs++
		}
		if m := l.measured.Add(1); l.opts.maxReq > 0 && m >= int64(l.opts.maxReq) {
			l.exhausted.Store(true)
		}
	}
}

// contentType is the Content-Type of request bodies.
func (l *load) contentType() string {
	if l.opts.form {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// nextRequest is the URL, Authorization header and body of the next
// request of the mode; ok is false when the revoke lines have run out.
func (l *load) nextRequest() (u, hdr string, rd io.Reader, ok bool) {
	n := l.seq.Add(1)
	u = l.opts.target
	if len(l.creds) > 0 {
		c := l.creds[int(n)%len(l.creds)]
		hdr = c.header
		u = strings.ReplaceAll(u, "{user}", c.user)
	}
	switch l.opts.mode {
	case "create":
		rd = strings.NewReader(strings.ReplaceAll(l.opts.body, "{n}", strconv.FormatInt(n, 10)))
	case "revoke":
		i := l.next.Add(1) - 1
		if int(i) >= len(l.revokeLines) {
			l.exhausted.Store(true)
			return "", "", nil, false
		}
		id, tok, _ := strings.Cut(l.revokeLines[i], " ")
		u = strings.ReplaceAll(u, "{id}", id)
		if l.opts.self {
			hdr = basic(l.opts.user, tok)
		}
	default:
		if l.opts.body != "" {
			rd = strings.NewReader(l.opts.body)
		}
	}
	return u, hdr, rd, true
}

// saveCreated writes the id and token of a created token's answer to -out.
func (l *load) saveCreated(respBody []byte) {
	if l.out == nil || len(respBody) == 0 {
		return
	}
	var ct struct{ ID, Token string }
	if json.Unmarshal(respBody, &ct) == nil && ct.ID != "" {
		l.outMu.Lock()
		fmt.Fprintf(l.out, "%s %s\n", ct.ID, ct.Token)
		l.outMu.Unlock()
	}
}
