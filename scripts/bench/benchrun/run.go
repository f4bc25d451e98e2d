package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portusproject/portus/internal/testutil"
)

// loadResult is what loadgen prints.
type loadResult struct {
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
	FirstErr  string         `json:"first_error"`
	Exhausted bool           `json:"exhausted"`
	CPUCores  float64        `json:"cpu_cores"` // the load generator's own CPU use
	Client    string         `json:"client"`

	// Filled in by bench.load from /proc during the measured window.
	ServerCores float64 `json:"-"`
	OtherCores  float64 `json:"-"`
	measuredCPU bool
	repRates    []float64 // throughput of each run, when the row is the best of several
}

type row struct{ sec, what, clients, rate, p50, p99, notes string }

// timing holds the durations of one run mode.
type timing struct {
	d, warmup, sign, pwD, createD time.Duration
	helperN, storeN, cliN         int
	// reps is how many times each throughput/latency row runs; the table
	// shows the run with the highest throughput, since other processes on
	// a shared machine can only slow a run down.
	reps  int
	sizes []int
}

type bench struct {
	t       timing
	quick   bool
	bin     string // portus, loadgen, docker-credential-portus, profserve
	self    string
	tmp     string
	rows    []row
	started time.Time

	quietLimit time.Duration // how long to wait for other processes to calm down
	waited     time.Duration
	maxOther   float64 // the most background load seen during a measurement

	// Results the targets need.
	signOps      float64
	tok1, tok8   *loadResult
	tok64        *loadResult
	refresh8     *loadResult // the refresh grant at 8 clients (refresh.go)
	rss64        int
	rssIdle      int
	helperGet    time.Duration
	helperStatus string // "", "pending", "failed: …"
	scale        map[int]scaleResult
}

type scaleResult struct {
	load   *loadResult
	pop    populateResult
	where  string
	nUsers int
}

const (
	alicePassword = "bench-password-123"
	service       = "registry"
	helperReg     = "localhost:5999" // the registry the helper stores for (configured, never contacted)
)

func tokenPath(user string) string {
	// user may be loadgen's {user} placeholder: escape around it.
	return "/v2/token?service=" + service + "&scope=" + url.QueryEscape("repository:") + user + url.QueryEscape("/app:pull,push")
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var (
		bin       = fs.String("bin", "", "directory with the built portus, loadgen, profserve and docker-credential-portus")
		quick     = fs.Bool("quick", false, "short durations, 100 and 10 000 users only")
		profile   = fs.String("profile", "", "also profile the token path at 8 clients and keep the profiles in this directory")
		keep      = fs.Bool("keep", false, "keep the temporary directory (data, logs)")
		sizes     = fs.String("sizes", "", "comma-separated user counts for the store scaling (default 100,1000,10000,100000; quick 100,10000)")
		onlyProf  = fs.Bool("profile-only", false, "with -profile: skip the table, only profile")
		onlyRefr  = fs.Bool("only-refresh", false, "only the GET application-token and refresh-grant rows at 8 clients")
		quietWait = fs.Duration("quiet-wait", 30*time.Second, "before each measurement, wait up to this long for other processes to leave the CPUs idle")
	)
	fs.Parse(args)
	if *bin == "" {
		return errors.New("-bin is required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b := &bench{bin: *bin, self: self, quick: *quick, started: time.Now(), scale: map[int]scaleResult{}, quietLimit: *quietWait}
	if *quick {
		b.t = timing{d: 2 * time.Second, warmup: 500 * time.Millisecond, sign: time.Second, pwD: 2 * time.Second, createD: 2 * time.Second,
			helperN: 15, storeN: 5, cliN: 5, sizes: []int{100, 10000}, reps: 1}
	} else {
		b.t = timing{d: 3 * time.Second, warmup: time.Second, sign: 2 * time.Second, pwD: 5 * time.Second, createD: 4 * time.Second,
			helperN: 50, storeN: 15, cliN: 15, sizes: []int{100, 1000, 10000, 100000}, reps: 3}
	}
	if *sizes != "" {
		b.t.sizes = nil
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return fmt.Errorf("-sizes: %q", s)
			}
			b.t.sizes = append(b.t.sizes, n)
		}
	}
	if b.tmp, err = os.MkdirTemp("", "portus-bench-"); err != nil {
		return err
	}
	// A reader that goes away (scripts/bench/run | head) must not kill the
	// run before it has stopped its servers and daemons.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		logf("interrupted: stopping the processes of this run")
		cleanup()
		if !*keep {
			os.RemoveAll(b.tmp)
		}
		os.Exit(130)
	}()
	defer func() {
		cleanup()
		if *keep {
			logf("kept %s", b.tmp)
		} else {
			os.RemoveAll(b.tmp)
		}
	}()

	steps := []struct {
		name string
		fn   func() error
	}{
		{"raw signing", b.runSign},
		{"token endpoint", b.runMain},
		{"etcd store", b.runEtcd},
		{"info log level", b.runInfo},
		{"calibration server", b.runBare},
		{"GOGC what-if", b.runGOGC},
		{"store scaling", b.runScaling},
	}
	if *onlyRefr {
		steps = steps[:0]
		steps = append(steps, struct {
			name string
			fn   func() error
		}{"token endpoint: application token and refresh grant", b.runTokenRows})
	}
	if *onlyProf {
		if *profile == "" {
			return errors.New("-profile-only needs -profile DIR")
		}
		steps = nil
	}
	for _, s := range steps {
		logf("== %s", s.name)
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if !*onlyProf {
		b.print(os.Stdout)
	}
	if *profile != "" {
		logf("== profile")
		if err := b.runProfile(*profile); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	}
	return nil
}

func (b *bench) exe(name string) string { return filepath.Join(b.bin, name) }

func (b *bench) add(r row) { b.rows = append(b.rows, r) }

// load runs loadgen with args, after waiting for a quiet machine. With
// srv, it also measures the server's CPU use, and everyone else's, during
// the measured window (after warmup); pid 0 measures no server.
func (b *bench) load(pid int, warmup time.Duration, args ...string) (*loadResult, error) {
	b.waitQuiet("loadgen " + strings.Join(args, " "))
	return b.loadNow(pid, warmup, args...)
}

// loadBest runs load b.t.reps times and returns the run with the highest
// throughput, carrying the rates of all runs.
func (b *bench) loadBest(pid int, warmup time.Duration, args ...string) (*loadResult, error) {
	var best *loadResult
	var rates []float64
	for range max(1, b.t.reps) {
		r, err := b.load(pid, warmup, args...)
		if err != nil {
			return nil, err
		}
		rates = append(rates, r.RPS)
		if best == nil || r.RPS > best.RPS {
			best = r
		}
	}
	if len(rates) > 1 {
		best.repRates = rates
	}
	return best, nil
}

// loadNow is load without waiting for a quiet machine.
func (b *bench) loadNow(pid int, warmup time.Duration, args ...string) (*loadResult, error) {
	cmd := exec.Command(b.exe("loadgen"), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	track(cmd)
	first := make(chan cpuSnap, 1)
	timer := time.AfterFunc(warmup, func() { first <- snapCPU(pid) })
	err := cmd.Wait()
	untrack(cmd)
	last := snapCPU(pid)
	timer.Stop()
	if err != nil {
		return nil, fmt.Errorf("loadgen %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	var r loadResult
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		return nil, fmt.Errorf("loadgen %s: reading %q: %w", strings.Join(args, " "), out.String(), err)
	}
	select {
	case s0 := <-first:
		r.measuredCPU = true
		if pid > 0 {
			r.ServerCores = procCores(s0, last)
		}
		r.OtherCores = max(0, busyCores(s0, last)-r.ServerCores-r.CPUCores)
		if r.OtherCores > b.maxOther {
			b.maxOther = r.OtherCores
		}
	default:
	}
	if r.OK == 0 {
		return &r, fmt.Errorf("loadgen %s: no successful request (status %v, first error %q)", strings.Join(args, " "), r.Status, r.FirstErr)
	}
	return &r, nil
}

func (b *bench) dur() []string {
	return []string{"-d", b.t.d.String(), "-warmup", b.t.warmup.String()}
}

func loadRow(sec, what string, r *loadResult, notes string) row {
	var parts []string
	if notes != "" {
		parts = append(parts, notes)
	}
	if r.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d unexpected answers %v", r.Errors, r.Status))
	}
	if len(r.repRates) > 1 {
		var rs []string
		for _, v := range r.repRates {
			rs = append(rs, fmtRate(v))
		}
		parts = append(parts, fmt.Sprintf("best of %d runs (%s)", len(r.repRates), strings.Join(rs, ", ")))
	}
	if r.measuredCPU {
		cpu := ""
		if r.ServerCores > 0 && r.RPS > 0 {
			cpu = fmt.Sprintf("server %.2f cores (%.0f µs CPU/req), ", r.ServerCores, r.ServerCores/r.RPS*1e6)
		}
		cpu += fmt.Sprintf("loadgen %.2f", r.CPUCores)
		if r.OtherCores >= 0.15 {
			cpu += fmt.Sprintf(", ⚠ other processes %.2f", r.OtherCores)
		}
		parts = append(parts, cpu)
	}
	return row{sec, what, strconv.Itoa(r.Clients), fmtRate(r.RPS), fmtUs(r.P50us), fmtUs(r.P99us), strings.Join(parts, "; ")}
}

// 1. Raw signing.
func (b *bench) runSign() error {
	var (
		r     signResult
		rates []string
		other float64
	)
	for range max(1, b.t.reps) {
		var one signResult
		b.waitQuiet("raw signing")
		s0 := snapCPU(0)
		if err := runJSON(&one, []string{"GOMAXPROCS=1"}, b.self, "sign", "-d", b.t.sign.String()); err != nil {
			return err
		}
		bg := busyCores(s0, snapCPU(0)) - 1
		rates = append(rates, fmtRate(one.OpsPerSec))
		if one.OpsPerSec > r.OpsPerSec {
			r, other = one, bg
		}
	}
	if len(rates) > 1 {
		r.best = fmt.Sprintf("; best of %d runs (%s)", len(rates), strings.Join(rates, ", "))
	}
	warn := ""
	if other >= 0.15 {
		warn = fmt.Sprintf("; ⚠ other processes %.2f cores", other)
		b.maxOther = max(b.maxOther, other)
	}
	b.signOps = r.OpsPerSec
	b.add(row{"1", "raw ES256 signing, `Issuer.Issue` in a sequential loop (GOMAXPROCS=1)", "—", fmtRate(r.OpsPerSec),
		fmtUs(r.NsPerOp / 1e3), "", fmt.Sprintf("%.0f ns/op, %d ops in %.1f s; token %d bytes%s%s", r.NsPerOp, r.Ops, r.Seconds, r.TokenBytes, r.best, warn)})
	return nil
}

// 2–4, 6, 7 on one server at log level warn.
func (b *bench) runMain() error {
	data := filepath.Join(b.tmp, "main")
	srv, err := startServer(b.exe("portus"), data, filepath.Join(b.tmp, "main.log"), nil, "--log-level", "warn", "--max-tokens", "1000000")
	if err != nil {
		return err
	}
	defer srv.stop()
	time.Sleep(500 * time.Millisecond)
	b.rssIdle, _ = srv.rss()
	cliEnv := []string{"PORTUS_DATA=" + data}
	if _, err := run(cliEnv, alicePassword+"\n", b.exe("portus"), "user", "create", "alice", "--password-stdin"); err != nil {
		return err
	}
	out, err := run(cliEnv, "", b.exe("portus"), "token", "create", "--user", "alice", "--name", "bench", "--scope", "push")
	if err != nil {
		return err
	}
	token := strings.TrimSpace(out)

	// 2. The application-token path.
	tokURL := srv.URL + tokenPath("alice")
	for _, c := range []int{1, 8, 64} {
		var (
			r        *loadResult
			rssPeak  int
			rssLast  int
			stopPoll = make(chan struct{})
			polled   = make(chan struct{})
		)
		if c == 64 {
			go func() {
				defer close(polled)
				t := time.NewTicker(50 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-stopPoll:
						return
					case <-t.C:
						if v, _ := srv.rss(); v > 0 {
							rssLast = v
							rssPeak = max(rssPeak, v)
						}
					}
				}
			}()
		}
		r, err = b.loadBest(srv.pid(), b.t.warmup, append([]string{"-url", tokURL, "-auth", "alice:" + token, "-c", strconv.Itoa(c)}, b.dur()...)...)
		if c == 64 {
			close(stopPoll)
			<-polled
		}
		if err != nil {
			return err
		}
		notes := ""
		switch c {
		case 1:
			b.tok1 = r
		case 8:
			b.tok8 = r
			notes = fmt.Sprintf("%.0f %% of raw signing", 100*r.RPS/b.signOps)
		case 64:
			b.tok64 = r
			b.rss64 = rssLast
			notes = fmt.Sprintf("RSS during the run: last %s, peak %s", fmtKiB(rssLast), fmtKiB(rssPeak))
		}
		b.add(loadRow("2", "`GET /v2/token`, application token (Basic alice:ptk_…), log level warn", r, notes))
	}
	if err := b.runRefresh(srv); err != nil {
		return err
	}
	_, hwm := srv.rss()
	b.add(row{"7", "server RSS (VmRSS)", "—", "", "", "", fmt.Sprintf("idle, after start and before any request: %s; at the end of the 64-client token load: %s (VmHWM so far %s)",
		fmtKiB(b.rssIdle), fmtKiB(b.rss64), fmtKiB(hwm))})

	// 3. Anonymous and password.
	for _, c := range []int{1, 8, 64} {
		r, err := b.loadBest(srv.pid(), b.t.warmup, append([]string{"-url", srv.URL + tokenPath("alice"), "-c", strconv.Itoa(c)}, b.dur()...)...)
		if err != nil {
			return err
		}
		b.add(loadRow("3", "`GET /v2/token`, anonymous (no credentials)", r, ""))
	}
	for _, c := range []int{1, 8} {
		r, err := b.load(srv.pid(), b.t.warmup, "-url", tokURL, "-auth", "alice:"+alicePassword, "-c", strconv.Itoa(c), "-d", b.t.pwD.String(), "-warmup", b.t.warmup.String())
		if err != nil {
			return err
		}
		b.add(loadRow("3", "`GET /v2/token`, password (argon2id 19 MiB, t=2)", r, ""))
	}
	_, hwm = srv.rss()
	rssNow, _ := srv.rss()
	b.add(row{"7", "server RSS after the password runs", "—", "", "", "", fmt.Sprintf("VmRSS %s, VmHWM %s (each argon2id check holds 19 MiB)", fmtKiB(rssNow), fmtKiB(hwm))})

	// 4. Token creation and revocation.
	if err := b.runTokens(srv, data); err != nil {
		return err
	}

	// 6. The credential helper.
	if err := b.runHelper(srv); err != nil {
		b.helperStatus = "failed: " + firstLine(err.Error())
		b.add(row{"6", "helper `get` / `store` with gnome-keyring", "—", "", "", "", b.helperStatus})
	}
	return nil
}

func (b *bench) runTokens(srv *server, data string) error {
	sock := filepath.Join(data, "admin.sock")
	body := `{"name":"bench-{n}","scope":"push"}`
	createD := []string{"-d", b.t.createD.String(), "-warmup", "0s"}
	var files []string
	for _, c := range []int{1, 8} {
		f := filepath.Join(b.tmp, fmt.Sprintf("created-pw-%d.txt", c))
		r, err := b.load(srv.pid(), 0, append([]string{"-mode", "create", "-url", srv.URL + "/api/v1/tokens", "-auth", "alice:" + alicePassword,
			"-body", strings.ReplaceAll(body, "{n}", fmt.Sprintf("pw%d-{n}", c)), "-out", f, "-c", strconv.Itoa(c)}, createD...)...)
		if err != nil {
			return err
		}
		files = append(files, f)
		b.add(loadRow("4", "create: `POST /api/v1/tokens` with the password (argon2id + 2 write transactions)", r, ""))
	}
	for _, c := range []int{1, 8} {
		f := filepath.Join(b.tmp, fmt.Sprintf("created-sock-%d.txt", c))
		r, err := b.load(srv.pid(), 0, append([]string{"-mode", "create", "-unix", sock, "-url", "http://portus/api/v1/users/alice/tokens",
			"-body", strings.ReplaceAll(body, "{n}", fmt.Sprintf("sock%d-{n}", c)), "-out", f, "-c", strconv.Itoa(c)}, createD...)...)
		if err != nil {
			return err
		}
		files = append(files, f)
		b.add(loadRow("4", "create: admin socket `POST /api/v1/users/alice/tokens` (no password; 2 write transactions)", r, ""))
	}
	// Revoke what the socket runs created: each token revokes itself over
	// the public API, then the rest through the admin socket.
	r, err := b.load(srv.pid(), 0, "-mode", "revoke", "-url", srv.URL+"/api/v1/tokens/{id}", "-in", files[2], "-self", "-user", "alice",
		"-c", "1", "-d", "60s", "-warmup", "0s")
	if err != nil {
		return err
	}
	b.add(loadRow("4", "revoke: `DELETE /api/v1/tokens/{id}` authenticated by that token (HMAC + lookup + 2 write transactions)", r, ""))
	r, err = b.load(srv.pid(), 0, "-mode", "revoke", "-unix", sock, "-url", "http://portus/api/v1/users/alice/tokens/{id}", "-in", files[3],
		"-c", "1", "-d", "60s", "-warmup", "0s")
	if err != nil {
		return err
	}
	b.add(loadRow("4", "revoke: admin socket `DELETE /api/v1/users/alice/tokens/{id}`", r, ""))
	// The CLI as an administrator runs it: a process, the socket, the writes.
	var times []time.Duration
	for i := range b.t.cliN {
		t0 := time.Now()
		if _, err := run([]string{"PORTUS_DATA=" + data}, "", b.exe("portus"), "token", "create", "--user", "alice", "--name", fmt.Sprintf("cli-%d", i)); err != nil {
			return err
		}
		times = append(times, time.Since(t0))
	}
	b.add(row{"4", "create: `portus token create` (CLI process → admin socket)", "1", "",
		fmtDur(median(times)), fmtDur(p99(times)), fmt.Sprintf("median wall time of %d runs", len(times))})
	// The tokens the password runs created stay; they change no later number.
	return nil
}

// runInfo: the token path at 8 clients with the default log level (info),
// the access log going to a file as a service's stderr would.
func (b *bench) runInfo() error {
	data := filepath.Join(b.tmp, "main")
	srv, err := startServer(b.exe("portus"), data, filepath.Join(b.tmp, "info.log"), nil, "--max-tokens", "1000000")
	if err != nil {
		return err
	}
	defer srv.stop()
	out, err := run([]string{"PORTUS_DATA=" + data}, "", b.exe("portus"), "token", "create", "--user", "alice", "--name", "bench-info")
	if err != nil {
		return err
	}
	for _, c := range []int{1, 8} {
		r, err := b.loadBest(srv.pid(), b.t.warmup, append([]string{"-url", srv.URL + tokenPath("alice"), "-auth", "alice:" + strings.TrimSpace(out), "-c", strconv.Itoa(c)}, b.dur()...)...)
		if err != nil {
			return err
		}
		notes := "one access-log line per request to stderr (a file here)"
		if c == 8 {
			notes += fmt.Sprintf("; %.0f %% of raw signing", 100*r.RPS/b.signOps)
		}
		b.add(loadRow("2", "`GET /v2/token`, application token, default log level info", r, notes))
	}
	return nil
}

// runGOGC: the token path at 8 and 64 clients with GOGC=400 in the
// environment — no code change — to show how much of the per-request CPU
// is garbage collection of a tiny heap (see the profile).
func (b *bench) runGOGC() error {
	data := filepath.Join(b.tmp, "main")
	srv, err := startServer(b.exe("portus"), data, filepath.Join(b.tmp, "gogc.log"), []string{"GOGC=400"}, "--log-level", "warn", "--max-tokens", "1000000")
	if err != nil {
		return err
	}
	defer srv.stop()
	out, err := run([]string{"PORTUS_DATA=" + data}, "", b.exe("portus"), "token", "create", "--user", "alice", "--name", "bench-gogc")
	if err != nil {
		return err
	}
	for _, c := range []int{8, 64} {
		r, err := b.loadBest(srv.pid(), b.t.warmup, append([]string{"-url", srv.URL + tokenPath("alice"), "-auth", "alice:" + strings.TrimSpace(out), "-c", strconv.Itoa(c)}, b.dur()...)...)
		if err != nil {
			return err
		}
		rss, _ := srv.rss()
		notes := fmt.Sprintf("what-if, not a target row; RSS %s", fmtKiB(rss))
		if c == 8 {
			notes = fmt.Sprintf("what-if, not a target row: %.0f %% of raw signing; RSS %s", 100*r.RPS/b.signOps, fmtKiB(rss))
		}
		b.add(loadRow("2", "`GET /v2/token`, application token, log level warn, **GOGC=400** in the environment", r, notes))
	}
	return nil
}

// runBare: the calibration server at 8 clients.
func (b *bench) runBare() error {
	port, err := testutil.FreePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("localhost:%d", port)
	cmd := exec.Command(b.self, "bare", "-listen", addr)
	if err := cmd.Start(); err != nil {
		return err
	}
	track(cmd)
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait(); untrack(cmd) }()
	u := "http://" + addr + tokenPath("alice")
	for i := 0; ; i++ {
		if _, err := b.loadNow(0, 0, "-url", u, "-auth", "alice:x", "-c", "1", "-d", "50ms", "-warmup", "0s"); err == nil {
			break
		} else if i > 100 {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	r, err := b.loadBest(cmd.Process.Pid, b.t.warmup, append([]string{"-url", u, "-auth", "alice:x", "-c", "8"}, b.dur()...)...)
	if err != nil {
		return err
	}
	b.add(loadRow("2", "calibration: bare net/http handler, Basic + the same `Issue`, no lookup/router/logging", r,
		fmt.Sprintf("%.0f %% of raw signing — the practical ceiling", 100*r.RPS/b.signOps)))
	return nil
}

// runScaling: 5. store scaling.
func (b *bench) runScaling() error {
	const perUser = 5
	for _, n := range b.t.sizes {
		data := filepath.Join(b.tmp, fmt.Sprintf("scale-%d", n))
		creds := filepath.Join(b.tmp, fmt.Sprintf("scale-%d.creds", n))
		where := "disk"
		popDir := data
		// One write transaction per user and per token, each with its
		// fsyncs: on this disk 10 000 users take ~30 s and 100 000 would
		// take well over the run's budget. Larger stores are written with
		// the same transactions on tmpfs (fsync is free there) and the
		// finished file is copied to the disk data directory: the file is
		// the same, the server reads it the same way.
		if n > 10000 {
			if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
				shm, err := os.MkdirTemp("/dev/shm", "portus-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(shm)
				popDir = filepath.Join(shm, "data")
				where = "tmpfs, then copied to disk"
			}
		}
		logf("populating %d users × %d tokens (%s)", n, perUser, where)
		var pop populateResult
		budget := "170s"
		if err := runJSON(&pop, nil, b.self, "populate", "-data", popDir, "-users", strconv.Itoa(n), "-tokens", strconv.Itoa(perUser),
			"-creds", creds, "-budget", budget); err != nil {
			return err
		}
		if popDir != data {
			if err := os.MkdirAll(data, 0o700); err != nil {
				return err
			}
			for _, f := range []string{"portus.db", "pepper"} {
				if err := copyFile(filepath.Join(data, f), filepath.Join(popDir, f)); err != nil {
					return err
				}
			}
			os.RemoveAll(filepath.Dir(popDir))
		}
		srv, err := startServer(b.exe("portus"), data, filepath.Join(b.tmp, fmt.Sprintf("scale-%d.log", n)), nil, "--log-level", "warn")
		if err != nil {
			return err
		}
		r, err := b.loadBest(srv.pid(), b.t.warmup, append([]string{"-url", srv.URL + tokenPath("{user}"), "-creds", creds, "-c", "1"}, b.dur()...)...)
		srv.stop()
		if err != nil {
			return err
		}
		size := fileSize(filepath.Join(data, "portus.db"))
		os.RemoveAll(data)
		b.scale[n] = scaleResult{load: r, pop: pop, where: where, nUsers: pop.Users}
		what := fmt.Sprintf("store scaling: %s users × %d tokens, `/v2/token` with %d sampled tokens in turn", fmtInt(pop.Users), perUser, countLines(creds))
		notes := fmt.Sprintf("file %s; in-process `TokenByHash` p50 %s p99 %s, `AuthenticateToken` p50 %s; populated in %.1f s (%s tx/s, %s)",
			fmtBytes(size), fmtUs(pop.LookupP50ns/1e3), fmtUs(pop.LookupP99ns/1e3), fmtUs(pop.AuthP50ns/1e3), pop.Seconds, fmtInt(int(pop.TxPerSecond)), where)
		if !pop.Complete {
			notes += fmt.Sprintf("; STOPPED at %s of %s users (budget %s)", fmtInt(pop.Users), fmtInt(n), budget)
		}
		b.add(loadRow("5", what, r, notes))
	}
	return nil
}

func countLines(name string) int {
	data, _ := os.ReadFile(name)
	return strings.Count(string(data), "\n")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// print writes the table and the targets.
func (b *bench) print(w *os.File) {
	mode := "full"
	if b.quick {
		mode = "quick"
	}
	fmt.Fprintf(w, "\nPortus benchmark (%s mode), %s, %s, %d CPUs, %s, total %s\n\n", mode, time.Now().Format("2006-01-02 15:04 MST"),
		runtime.Version(), runtime.NumCPU(), cpuModel(), time.Since(b.started).Round(time.Second))
	fmt.Fprintf(w, "Waited %s in all for other processes to leave the CPUs idle; the most they used during a measurement: %.2f cores.\n\n",
		b.waited.Round(time.Second), b.maxOther)
	sort.SliceStable(b.rows, func(i, j int) bool { return b.rows[i].sec < b.rows[j].sec })
	fmt.Fprintln(w, "| § | measurement | clients | rate | p50 | p99 | notes |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|---|")
	for _, r := range b.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.sec, r.what, r.clients, r.rate, r.p50, r.p99, r.notes)
	}
	for _, t := range b.targets() {
		fmt.Fprintf(w, "| target | %s | | %s | | | %s |\n", t[0], t[1], t[2])
	}
	fmt.Fprintln(w)
}

// targets returns (what, measured, verdict) for each target of the issue.
func (b *bench) targets() [][3]string {
	var out [][3]string
	verdict := func(ok bool, margin string) string {
		if ok {
			return "**PASS** (" + margin + ")"
		}
		return "**MISS** (" + margin + ")"
	}
	if b.tok8 != nil && b.signOps > 0 {
		ratio := b.tok8.RPS / b.signOps
		out = append(out, [3]string{"`/v2/token` at 8 clients ÷ raw signing of one core ≥ 50 %",
			fmt.Sprintf("%.1f %%", 100*ratio), verdict(ratio >= 0.5, fmt.Sprintf("%+.1f points", 100*(ratio-0.5)))})
	}
	if t, ok := b.refreshTarget(); ok {
		out = append(out, t)
	}
	if b.tok1 != nil {
		p := b.tok1.P99us / 1e3
		out = append(out, [3]string{"p99 at 1 client < 1 ms", fmtUs(b.tok1.P99us), verdict(p < 1, fmt.Sprintf("%.0f %% of the limit", 100*p/1))})
	}
	if b.tok64 != nil {
		p := b.tok64.P99us / 1e3
		out = append(out, [3]string{"p99 at 64 clients < 25 ms", fmtUs(b.tok64.P99us), verdict(p < 25, fmt.Sprintf("%.0f %% of the limit", 100*p/25))})
	}
	small, okS := b.scale[100]
	var big scaleResult
	okB := false
	bigN := 0
	for n, s := range b.scale {
		if n > bigN && s.pop.Complete {
			big, bigN, okB = s, n, true
		}
	}
	if okS && okB && bigN > 100 {
		ratio := big.load.P50us / small.load.P50us
		name := fmt.Sprintf("lookup p50 at %s users ÷ at 100 users ≤ 1.5×", fmtInt(bigN))
		if bigN < 100000 {
			name += " (100 000 not measured)"
		}
		inproc := big.pop.LookupP50ns / small.pop.LookupP50ns
		detail := fmt.Sprintf("%s vs %s at /v2/token; p99 %.2f×; in-process TokenByHash p50 %.2f×",
			fmtUs(big.load.P50us), fmtUs(small.load.P50us), big.load.P99us/small.load.P99us, inproc)
		v := verdict(ratio <= 1.5, detail)
		if bigN < 100000 {
			v = "not evaluated (" + detail + ")"
		}
		out = append(out, [3]string{name, fmt.Sprintf("%.2f×", ratio), v})
	}
	switch {
	case b.helperStatus != "":
		out = append(out, [3]string{"helper `get` median < 30 ms", "—", b.helperStatus})
	case b.helperGet > 0:
		ms := b.helperGet.Seconds() * 1e3
		out = append(out, [3]string{"helper `get` median < 30 ms", fmtDur(b.helperGet), verdict(ms < 30, fmt.Sprintf("%.0f %% of the limit", 100*ms/30))})
	}
	if b.rss64 > 0 {
		mib := float64(b.rss64) / 1024
		out = append(out, [3]string{"server RSS at 64 clients < 100 MiB", fmtKiB(b.rss64), verdict(mib < 100, fmt.Sprintf("%.0f %% of the limit", mib))})
	}
	return out
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func fmtRate(rps float64) string {
	switch {
	case rps >= 100:
		return fmtInt(int(rps+0.5)) + "/s"
	case rps >= 10:
		return fmt.Sprintf("%.1f/s", rps)
	default:
		return fmt.Sprintf("%.2f/s", rps)
	}
}

func fmtUs(us float64) string {
	switch {
	case us <= 0:
		return "—"
	case us < 1000:
		return fmt.Sprintf("%.0f µs", us)
	case us < 10000:
		return fmt.Sprintf("%.2f ms", us/1e3)
	default:
		return fmt.Sprintf("%.1f ms", us/1e3)
	}
}

func fmtDur(d time.Duration) string { return fmtUs(float64(d.Nanoseconds()) / 1e3) }

func fmtKiB(k int) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
}

// fmtInt writes 12345 as 12 345.
func fmtInt(n int) string {
	s := strconv.Itoa(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ' ')
		}
		out = append(out, s[i])
	}
	return string(out)
}
