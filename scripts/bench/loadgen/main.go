// Command loadgen is the HTTP load generator of scripts/bench. It runs in
// its own process, so that the server under test and the client share the
// machine's cores the way a real client would, and it uses only the
// standard library.
//
// It keeps -c workers busy for -warmup (not recorded) and then for -d,
// each on its own keep-alive connection, and prints one JSON object:
// requests completed in the measured window, throughput, latency
// percentiles, the status codes seen, and the CPU the load generator itself
// used. Plain GET requests (the token endpoint) go through a minimal
// HTTP/1.1 client — requests built once, answers parsed only as far as
// Content-Length — the way wrk does it, so that on a 2-core machine the
// load generator takes as little CPU from the server as it can; -raw=false
// uses net/http instead. Everything else uses net/http.
//
// Modes:
//
//	fixed   the same request again and again (-auth or -creds rotate the
//	        credentials; {user} in -url is replaced by the credential's user)
//	create  POST -body (with {n} replaced by a unique number); each 201's
//	        "id" and "token" are written to -out as "id token" lines
//	revoke  one DELETE per line of -in ("id token"); {id} in -url is the id;
//	        -self authenticates each with its own token as -user's secret.
//	        Stops when the lines run out (or after -d).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type cred struct {
	user, header string
}

type result struct {
	Mode      string         `json:"mode"`
	Clients   int            `json:"clients"`
	Requests  int            `json:"requests"`
	OK        int            `json:"ok"`
	Errors    int            `json:"errors"`
	Seconds   float64        `json:"seconds"`
	RPS       float64        `json:"rps"`
	P50us     float64        `json:"p50_us"`
	P90us     float64        `json:"p90_us"`
	P99us     float64        `json:"p99_us"`
	MaxUs     float64        `json:"max_us"`
	MeanUs    float64        `json:"mean_us"`
	Status    map[string]int `json:"status"`
	FirstErr  string         `json:"first_error,omitempty"`
	Exhausted bool           `json:"exhausted,omitempty"`
	// CPUCores is this process's CPU time during the measured window
	// divided by the window: how many cores the load generator used.
	CPUCores float64 `json:"cpu_cores"`
	Client   string  `json:"client"`
}

func main() {
	var (
		mode    = flag.String("mode", "fixed", "fixed, create or revoke")
		target  = flag.String("url", "", "request URL ({user}, {id} are substituted)")
		unix    = flag.String("unix", "", "connect to this unix socket instead of the URL's host")
		method  = flag.String("method", "", "HTTP method (default GET; POST for create, DELETE for revoke)")
		clients = flag.Int("c", 1, "concurrent clients, one connection each")
		dur     = flag.Duration("d", 5*time.Second, "measured duration")
		warmup  = flag.Duration("warmup", time.Second, "unmeasured warm-up before -d")
		auth    = flag.String("auth", "", "user:secret for HTTP Basic (empty: anonymous)")
		creds   = flag.String("creds", "", "file of \"user secret\" lines, used in turn (instead of -auth)")
		body    = flag.String("body", "", "request body (create: {n} is a unique number)")
		expect  = flag.Int("expect", 0, "status that counts as success (default 200, 201 for create, 204 for revoke)")
		out     = flag.String("out", "", "create: write \"id token\" lines here")
		in      = flag.String("in", "", "revoke: read \"id token\" lines from here")
		self    = flag.Bool("self", false, "revoke: authenticate each DELETE with its own token")
		user    = flag.String("user", "", "revoke -self: the tokens' owner")
		maxReq  = flag.Int("max", 0, "stop after this many measured requests (0: no limit)")
		rawFlag = flag.Bool("raw", true, "fixed mode over TCP: a minimal HTTP/1.1 client (pre-built requests, keep-alive) instead of net/http, so that the load generator leaves the CPU to the server")
	)
	flag.Parse()
	if *target == "" || *clients < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if *method == "" {
		*method = map[string]string{"create": http.MethodPost, "revoke": http.MethodDelete}[*mode]
		if *method == "" {
			*method = http.MethodGet
		}
	}
	if *expect == 0 {
		*expect = map[string]int{"create": http.StatusCreated, "revoke": http.StatusNoContent}[*mode]
		if *expect == 0 {
			*expect = http.StatusOK
		}
	}

	var credList []cred
	switch {
	case *creds != "":
		lines, err := readLines(*creds)
		if err != nil {
			fatal(err)
		}
		for _, l := range lines {
			u, s, _ := strings.Cut(l, " ")
			credList = append(credList, cred{u, basic(u, s)})
		}
	case *auth != "":
		u, s, _ := strings.Cut(*auth, ":")
		credList = []cred{{u, basic(u, s)}}
	}
	var revokeLines []string
	if *mode == "revoke" {
		var err error
		if revokeLines, err = readLines(*in); err != nil {
			fatal(err)
		}
	}

	tr := &http.Transport{
		MaxIdleConns:        *clients,
		MaxIdleConnsPerHost: *clients,
		MaxConnsPerHost:     *clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	if *unix != "" {
		sock := *unix
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
	}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}

	var outMu sync.Mutex
	var outW *bufio.Writer
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		outW = bufio.NewWriter(f)
		defer outW.Flush()
	}

	raw := *rawFlag && *mode == "fixed" && *unix == "" && *body == "" && *method == http.MethodGet
	var rawTarget *url.URL
	if raw {
		var err error
		if rawTarget, err = url.Parse(*target); err != nil || rawTarget.Scheme != "http" {
			raw = false
		}
	}

	start := time.Now()
	measureFrom := start.Add(*warmup)
	var cpuFrom time.Duration
	cpuTimer := time.AfterFunc(*warmup, func() { cpuFrom = cpuTime() })
	end := measureFrom.Add(*dur)
	var (
		seq       atomic.Int64 // request numbers (create names, cred rotation)
		next      atomic.Int64 // revoke: next line
		measured  atomic.Int64
		exhausted atomic.Bool
		errOnce   sync.Once
		firstErr  string
	)
	type workerStats struct {
		lat    []int64
		ok     int
		errs   int
		status map[int]int
	}
	stats := make([]*workerStats, *clients)
	var wg sync.WaitGroup
	for w := 0; w < *clients; w++ {
		ws := &workerStats{lat: make([]int64, 0, 1<<14), status: map[int]int{}}
		stats[w] = ws
		wg.Add(1)
		var rc *rawConn
		if raw {
			rc = &rawConn{addr: rawTarget.Host}
		}
		go func() {
			defer wg.Done()
			if rc != nil {
				defer rc.close()
			}
			for {
				t0 := time.Now()
				if t0.After(end) || exhausted.Load() {
					return
				}
				n := seq.Add(1)
				u := *target
				var rd io.Reader
				var hdr string
				var c cred
				if len(credList) > 0 {
					c = credList[int(n)%len(credList)]
					hdr = c.header
					u = strings.ReplaceAll(u, "{user}", c.user)
				}
				switch *mode {
				case "create":
					rd = strings.NewReader(strings.ReplaceAll(*body, "{n}", strconv.FormatInt(n, 10)))
				case "revoke":
					i := next.Add(1) - 1
					if int(i) >= len(revokeLines) {
						exhausted.Store(true)
						return
					}
					id, tok, _ := strings.Cut(revokeLines[i], " ")
					u = strings.ReplaceAll(u, "{id}", id)
					if *self {
						hdr = basic(*user, tok)
					}
				default:
					if *body != "" {
						rd = strings.NewReader(*body)
					}
				}
				var (
					respBody []byte
					status   int
					err      error
				)
				if rc != nil {
					status, err = rc.do(rawRequest(rawTarget, u, hdr))
				} else {
					status, respBody, err = stdDo(client, *method, u, rd, hdr, *mode == "create")
				}
				t1 := time.Now()
				if err == nil && status != *expect {
					err = fmt.Errorf("status %d", status)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err.Error() })
				}
				if outW != nil && len(respBody) > 0 {
					var ct struct{ ID, Token string }
					if json.Unmarshal(respBody, &ct) == nil && ct.ID != "" {
						outMu.Lock()
						fmt.Fprintf(outW, "%s %s\n", ct.ID, ct.Token)
						outMu.Unlock()
					}
				}
				if t0.Before(measureFrom) {
					continue
				}
				ws.lat = append(ws.lat, int64(t1.Sub(t0)))
				ws.status[status]++
				if status == *expect && err == nil {
					ws.ok++
				} else {
					ws.errs++
				}
				if m := measured.Add(1); *maxReq > 0 && m >= int64(*maxReq) {
					exhausted.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	stop := time.Now()
	cpuTimer.Stop()
	cpuStop := cpuTime()

	res := result{Mode: *mode, Clients: *clients, Status: map[string]int{}, FirstErr: firstErr, Exhausted: exhausted.Load(), Client: "net/http"}
	if raw {
		res.Client = "raw"
	}
	var all []int64
	for _, ws := range stats {
		all = append(all, ws.lat...)
		res.OK += ws.ok
		res.Errors += ws.errs
		for s, n := range ws.status {
			res.Status[strconv.Itoa(s)] += n
		}
	}
	res.Requests = len(all)
	from := measureFrom
	if stop.Before(from) {
		from = start
	}
	res.Seconds = stop.Sub(from).Seconds()
	if cpuFrom > 0 && res.Seconds > 0 {
		res.CPUCores = (cpuStop - cpuFrom).Seconds() / res.Seconds
	}
	if res.Seconds > 0 {
		res.RPS = float64(res.OK) / res.Seconds
	}
	if len(all) > 0 {
		slices.Sort(all)
		var sum int64
		for _, v := range all {
			sum += v
		}
		us := func(v int64) float64 { return float64(v) / 1e3 }
		res.P50us = us(pct(all, 0.50))
		res.P90us = us(pct(all, 0.90))
		res.P99us = us(pct(all, 0.99))
		res.MaxUs = us(all[len(all)-1])
		res.MeanUs = us(sum / int64(len(all)))
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fatal(err)
	}
}

// stdDo sends one request with net/http and reads the whole answer; the
// body is returned when keep is set.
func stdDo(client *http.Client, method, u string, rd io.Reader, auth string, keep bool) (int, []byte, error) {
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if keep && resp.StatusCode/100 == 2 {
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil, err
}

// rawRequests caches the bytes of each distinct request.
var rawRequests sync.Map

// rawRequest returns the HTTP/1.1 request for u with the Authorization
// header value auth (may be empty), built once.
func rawRequest(base *url.URL, u, auth string) []byte {
	key := u + "\x00" + auth
	if b, ok := rawRequests.Load(key); ok {
		return b.([]byte)
	}
	p, err := url.Parse(u)
	if err != nil {
		fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: portus-loadgen\r\n", p.RequestURI(), base.Host)
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	b.WriteString("\r\n")
	req := []byte(b.String())
	rawRequests.Store(key, req)
	return req
}

// rawConn is one keep-alive connection of the minimal client. It reads
// the status line and the headers it needs (Content-Length, chunked,
// Connection: close) and skips the body; on any error it reconnects at
// the next request.
type rawConn struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawConn) do(req []byte) (int, error) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		if c.r == nil {
			c.r = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.r.Reset(conn)
		}
	}
	status, err := c.roundTrip(req)
	if err != nil {
		c.close()
	}
	return status, err
}

func (c *rawConn) roundTrip(req []byte) (int, error) {
	if _, err := c.conn.Write(req); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, fmt.Errorf("malformed Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			l, err := c.r.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(l, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("malformed chunk size %q", l)
			}
			if _, err := c.r.Discard(int(n) + 2); err != nil {
				return 0, err
			}
			if n == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := c.r.Discard(length); err != nil {
			return 0, err
		}
	default:
		return 0, errors.New("answer without Content-Length")
	}
	if closing {
		c.close()
	}
	return status, nil
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pct is the nearest-rank percentile of sorted values.
func pct(sorted []int64, p float64) int64 {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func basic(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

func readLines(name string) ([]string, error) {
	if name == "" {
		return nil, errors.New("no input file (-in / -creds)")
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range bytes.Split(data, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			lines = append(lines, s)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s is empty", name)
	}
	return lines, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}
