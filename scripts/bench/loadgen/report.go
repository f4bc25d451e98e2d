package main

import (
	"slices"
	"strconv"
	"syscall"
	"time"
)

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

// window is when the measured part of a run was, by the clock and by this
// process's CPU time (cpuFrom is zero when the run ended within warm-up).
type window struct {
	start, measureFrom, stop time.Time
	cpuFrom, cpuStop         time.Duration
}

// report sums the workers' stats over the measured window.
func report(opts options, raw bool, stats []*workerStats, win window) result {
	res := result{Mode: opts.mode, Clients: opts.clients, Status: map[string]int{}, Client: "net/http"}
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
	from := win.measureFrom
	if win.stop.Before(from) {
		from = win.start
	}
	res.Seconds = win.stop.Sub(from).Seconds()
	if win.cpuFrom > 0 && res.Seconds > 0 {
		res.CPUCores = (win.cpuStop - win.cpuFrom).Seconds() / res.Seconds
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
	return res
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
