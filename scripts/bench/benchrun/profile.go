package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// runProfile profiles the application-token path at 8 clients: the
// profiling variant of the server (scripts/bench/profserve, the same
// server/cli code) is started, warmed up, and profiled for the measured
// window only (SIGUSR1 … SIGUSR2). The top entries are printed and the
// profiles kept in dir.
func (b *bench) runProfile(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"cpu.pprof", "allocs-start.pprof", "allocs-end.pprof", "allocs-start.json", "allocs-end.json"} {
		os.Remove(filepath.Join(dir, f))
	}
	data := filepath.Join(b.tmp, "prof")
	logFile := filepath.Join(b.tmp, "prof.log")
	srv, err := startServer(b.exe("profserve"), data, logFile, []string{"PROFSERVE_DIR=" + dir}, "--log-level", "warn")
	if err != nil {
		return err
	}
	defer srv.stop()
	env := []string{"PORTUS_DATA=" + data}
	if _, err := run(env, alicePassword+"\n", b.exe("portus"), "user", "create", "alice", "--password-stdin"); err != nil {
		return err
	}
	out, err := run(env, "", b.exe("portus"), "token", "create", "--user", "alice", "--name", "bench")
	if err != nil {
		return err
	}
	args := []string{"-url", srv.URL + tokenPath("alice"), "-auth", "alice:" + strings.TrimSpace(out), "-c", "8", "-warmup", "0s"}
	if _, err := b.load(srv.pid(), 0, append(args, "-d", "2s")...); err != nil {
		return err
	}
	if err := srv.signal(syscall.SIGUSR1); err != nil {
		return err
	}
	if err := waitUntil(10*time.Second, func() bool { return exists(filepath.Join(dir, "cpu.pprof")) }); err != nil {
		return err
	}
	d := 10 * time.Second
	if b.quick {
		d = 4 * time.Second
	}
	r, err := b.loadNow(srv.pid(), 0, append(args, "-d", d.String())...)
	if err != nil {
		return err
	}
	if err := srv.signal(syscall.SIGUSR2); err != nil {
		return err
	}
	if err := waitUntil(20*time.Second, func() bool { return strings.Contains(tail(logFile), "profiles written") }); err != nil {
		return err
	}
	srv.stop()

	var m0, m1 struct {
		Mallocs    uint64 `json:"mallocs"`
		TotalAlloc uint64 `json:"total_alloc"`
		NumGC      uint64 `json:"num_gc"`
	}
	readJSON(filepath.Join(dir, "allocs-start.json"), &m0)
	readJSON(filepath.Join(dir, "allocs-end.json"), &m1)
	reqs := float64(r.Requests)
	fmt.Printf("### Profile: `/v2/token` with an application token, 8 clients, %s\n\n", d)
	fmt.Printf("%s requests (%s) while profiling; the server allocated %.0f objects and %.1f KiB per request; %d GCs.\n",
		fmtInt(r.Requests), fmtRate(r.RPS), float64(m1.Mallocs-m0.Mallocs)/reqs, float64(m1.TotalAlloc-m0.TotalAlloc)/reqs/1024, m1.NumGC-m0.NumGC)
	fmt.Printf("Profiles: %s (go tool pprof %s %s)\n\n", dir, b.exe("profserve"), filepath.Join(dir, "cpu.pprof"))
	pprof := func(title string, args ...string) {
		cmd := exec.Command("go", append([]string{"tool", "pprof"}, args...)...)
		out, err := cmd.CombinedOutput()
		fmt.Printf("%s:\n\n```\n%s```\n\n", title, trimPprof(string(out)))
		if err != nil {
			fmt.Printf("(go tool pprof: %v)\n\n", err)
		}
	}
	exe := b.exe("profserve")
	cpu := filepath.Join(dir, "cpu.pprof")
	pprof("CPU, by flat time", "-top", "-nodecount=30", exe, cpu)
	pprof("CPU, by cumulative time", "-top", "-cum", "-nodecount=45", exe, cpu)
	pprof("Allocated bytes during the window", "-top", "-nodecount=25", "-sample_index=alloc_space",
		"-base", filepath.Join(dir, "allocs-start.pprof"), exe, filepath.Join(dir, "allocs-end.pprof"))
	pprof("Allocated objects during the window", "-top", "-nodecount=25", "-sample_index=alloc_objects",
		"-base", filepath.Join(dir, "allocs-start.pprof"), exe, filepath.Join(dir, "allocs-end.pprof"))
	return nil
}

func readJSON(name string, v any) {
	data, err := os.ReadFile(name)
	if err == nil {
		json.Unmarshal(data, v)
	}
}

// trimPprof drops pprof's header lines about files and build IDs.
func trimPprof(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
