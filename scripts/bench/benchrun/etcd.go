package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/portusproject/portus/internal/testutil"
)

// 8. The etcd store (several replicas): `/v2/token` with an application
// token on a server whose store is a three-member etcd cluster on this
// machine, against § 2's bbolt server at 8 clients in the same run. The
// token lookup is served from the replica's in-memory cache, so the target
// is "within 1.2× of bbolt".
func (b *bench) runEtcd() error {
	const what = "`GET /v2/token`, application token, log level warn, **etcd store** (3 members on this machine, the replica's cache)"
	exe, err := exec.LookPath("etcd")
	if err != nil {
		b.add(row{"8", what, "—", "", "", "", "skipped: etcd is not installed (Debian etcd-server; scripts/install-deps installs it)"})
		return nil
	}
	spec, stop, err := startBenchEtcd(exe, filepath.Join(b.tmp, "etcd"))
	defer stop()
	if err != nil {
		return err
	}
	data := filepath.Join(b.tmp, "etcd-replica")
	keyFile := filepath.Join(b.tmp, "etcd-secrets.key")
	if _, err := run(nil, "", b.exe("portus"), "etcd-secrets-key", keyFile); err != nil {
		return err
	}
	srv, err := startServer(b.exe("portus"), data, filepath.Join(b.tmp, "etcd-replica.log"), nil,
		"--log-level", "warn", "--max-tokens", "1000000", "--store", spec, "--etcd-secrets-key-file", keyFile)
	if err != nil {
		return err
	}
	defer srv.stop()
	cliEnv := []string{"PORTUS_DATA=" + data}
	if _, err := run(cliEnv, alicePassword+"\n", b.exe("portus"), "user", "create", "alice", "--password-stdin"); err != nil {
		return err
	}
	out, err := run(cliEnv, "", b.exe("portus"), "token", "create", "--user", "alice", "--name", "bench", "--scope", "push")
	if err != nil {
		return err
	}
	token := strings.TrimSpace(out)
	r, err := b.loadBest(srv.pid(), b.t.warmup, append([]string{"-url", srv.URL + tokenPath("alice"), "-auth", "alice:" + token, "-c", "8"}, b.dur()...)...)
	if err != nil {
		return err
	}
	notes := "no § 2 bbolt result to compare with"
	if bb := b.tok8; bb != nil && r.RPS > 0 && bb.P50us > 0 {
		slower := max(bb.RPS/r.RPS, r.P50us/bb.P50us)
		verdict := "**PASS**"
		if slower > 1.2 {
			verdict = "**MISS**"
		}
		notes = fmt.Sprintf("vs bbolt (§ 2, 8 clients, this run) %s, p50 %s: throughput %.2f×, p50 %.2f× — target within 1.2×: %s",
			fmtRate(bb.RPS), fmtUs(bb.P50us), r.RPS/bb.RPS, r.P50us/bb.P50us, verdict)
	}
	b.add(loadRow("8", what, r, notes))
	return nil
}

// startBenchEtcd starts a three-member etcd cluster under dir and returns
// its --store value and a function that kills the members (SIGKILL by pid).
func startBenchEtcd(exe, dir string) (string, func(), error) {
	type member struct {
		name, client, peer string
		cmd                *exec.Cmd
	}
	var ms []*member
	stop := func() {
		for _, m := range ms {
			if m.cmd != nil && m.cmd.Process != nil {
				syscall.Kill(m.cmd.Process.Pid, syscall.SIGKILL)
				m.cmd.Wait()
				untrack(m.cmd)
			}
		}
	}
	var initial, eps []string
	// All six ports at once: separate picks could hand the same port out
	// twice.
	ports, err := testutil.FreePorts(6)
	if err != nil {
		return "", stop, err
	}
	for i := range 3 {
		cp, pp := ports[2*i], ports[2*i+1]
		m := &member{name: fmt.Sprintf("m%d", i+1), client: fmt.Sprintf("http://127.0.0.1:%d", cp), peer: fmt.Sprintf("http://127.0.0.1:%d", pp)}
		ms = append(ms, m)
		initial = append(initial, m.name+"="+m.peer)
		eps = append(eps, strings.TrimPrefix(m.client, "http://"))
	}
	for _, m := range ms {
		m.cmd = exec.Command(exe, "--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--logger=zap", "--log-outputs=stderr", "--log-level=warn")
		logFile, err := os.Create(filepath.Join(dir + "-" + m.name + ".log"))
		if err != nil {
			return "", stop, err
		}
		m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
		if err := m.cmd.Start(); err != nil {
			return "", stop, err
		}
		track(m.cmd)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, m := range ms {
		for {
			resp, err := http.Get(m.client + "/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return "", stop, fmt.Errorf("etcd member %s not healthy within 30 s", m.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return "etcd://" + strings.Join(eps, ","), stop, nil
}
