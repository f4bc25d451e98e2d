// Command profserve is `portus` with profiles, for scripts/bench --profile:
// the same command line (server/cli.Main, so `profserve serve --data DIR …`
// runs the real server code), plus signal-driven profiling. The server
// itself has no pprof endpoint and gets none.
//
//	SIGUSR1  start a CPU profile (PROFSERVE_DIR/cpu.pprof) and write an
//	         allocation snapshot (allocs-start.pprof)
//	SIGUSR2  stop the CPU profile and write allocs-end.pprof; compare the
//	         two with go tool pprof -base allocs-start.pprof
//	         (allocs-*.json hold the exact malloc counters)
//
// so that only the load window is profiled, not the start-up.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/portusproject/portus/server/cli"
)

func main() {
	dir := os.Getenv("PROFSERVE_DIR")
	if dir == "" {
		dir = "."
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		var cpu *os.File
		for s := range sigs {
			switch s {
			case syscall.SIGUSR1:
				if cpu != nil {
					continue
				}
				writeAllocs(filepath.Join(dir, "allocs-start.pprof"))
				f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
				if err == nil && pprof.StartCPUProfile(f) == nil {
					cpu = f
				}
			case syscall.SIGUSR2:
				if cpu == nil {
					continue
				}
				pprof.StopCPUProfile()
				cpu.Close()
				cpu = nil
				writeAllocs(filepath.Join(dir, "allocs-end.pprof"))
				fmt.Fprintln(os.Stderr, "profserve: profiles written to", dir)
			}
		}
	}()
	os.Exit(cli.Main(cli.OSEnv(), os.Args[1:]))
}

// writeAllocs writes the allocation profile and, beside it (.json), the
// exact malloc counters, so that allocations per request can be computed.
func writeAllocs(name string) {
	runtime.GC()
	if f, err := os.Create(name); err == nil {
		pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	data, _ := json.Marshal(map[string]uint64{"mallocs": m.Mallocs, "total_alloc": m.TotalAlloc, "num_gc": uint64(m.NumGC)})
	os.WriteFile(strings.TrimSuffix(name, ".pprof")+".json", data, 0o644)
}
