package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// quietTotal bounds the time a whole run waits for a quiet machine.
const quietTotal = 3 * time.Minute

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTicks = 100

// cpuSnap is the machine's CPU counters and one process's CPU time.
type cpuSnap struct {
	at          time.Time
	busy, total uint64 // /proc/stat jiffies, all CPUs
	proc        uint64 // the process's utime+stime, in clock ticks
}

func snapCPU(pid int) cpuSnap {
	s := cpuSnap{at: time.Now()}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		f := strings.Fields(line)
		if len(f) > 5 && f[0] == "cpu" {
			for i, v := range f[1:] {
				n, _ := strconv.ParseUint(v, 10, 64)
				if i >= 8 { // guest, guest_nice are included in user
					break
				}
				s.total += n
				if i != 3 && i != 4 { // idle, iowait
					s.busy += n
				}
			}
		}
	}
	if pid > 0 {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if i := strings.LastIndexByte(string(data), ')'); i > 0 {
				f := strings.Fields(string(data)[i+1:])
				if len(f) > 12 {
					u, _ := strconv.ParseUint(f[11], 10, 64)
					k, _ := strconv.ParseUint(f[12], 10, 64)
					s.proc = u + k
				}
			}
		}
	}
	return s
}

// busyCores is how many cores the whole machine kept busy between a and b.
func busyCores(a, b cpuSnap) float64 {
	if b.total <= a.total {
		return 0
	}
	return float64(b.busy-a.busy) / float64(b.total-a.total) * float64(runtime.NumCPU())
}

// procCores is how many cores the process used between a and b.
func procCores(a, b cpuSnap) float64 {
	el := b.at.Sub(a.at).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(b.proc-a.proc) / clockTicks / el
}

// waitQuiet waits, up to limit, until processes other than ours leave
// the machine idle (under 0.2 cores for a second), so that a measurement
// does not share the cores with someone else's build. It returns the
// background load it saw last.
func (b *bench) waitQuiet(what string) float64 {
	start := time.Now()
	warned := false
	for {
		a := snapCPU(0)
		time.Sleep(time.Second)
		bg := busyCores(a, snapCPU(0))
		if bg < 0.2 {
			if warned {
				logf("machine quiet again after %s", time.Since(start).Round(time.Second))
			}
			return bg
		}
		// At most quietLimit per measurement and quietTotal per run.
		if time.Since(start) > b.quietLimit || b.waited > quietTotal {
			logf("other processes still use %.1f cores; measuring %s anyway (the table marks it)", bg, what)
			return bg
		}
		if !warned {
			logf("other processes use %.1f cores; waiting up to %s for a quiet machine before %s", bg, b.quietLimit, what)
			warned = true
		}
		b.waited += time.Second
	}
}
