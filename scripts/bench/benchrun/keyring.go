package main

import (
	"encoding/json"
	"flag"
	"os"
	"time"

	"github.com/zalando/go-keyring"
)

type keyringResult struct {
	ColdUs    float64 `json:"cold_us"`
	WarmP50us float64 `json:"warm_p50_us"`
	WarmP99us float64 `json:"warm_p99_us"`
	N         int     `json:"n"`
}

// cmdKeyring times go-keyring's Get of an item in one process: the first
// call (which connects to the session bus) and n more on the open
// connection. A Get is several D-Bus round trips to the Secret Service
// (unlock, search, open session, get secret, close session).
func cmdKeyring(args []string) error {
	fs := flag.NewFlagSet("keyring", flag.ExitOnError)
	service := fs.String("service", "docker-credential-portus", "keyring service")
	user := fs.String("user", "", "keyring user (the registry key)")
	n := fs.Int("n", 50, "warm calls")
	fs.Parse(args)
	t0 := time.Now()
	if _, err := keyring.Get(*service, *user); err != nil {
		return err
	}
	res := keyringResult{ColdUs: float64(time.Since(t0).Nanoseconds()) / 1e3, N: *n}
	lat := make([]int64, 0, *n)
	for range *n {
		t := time.Now()
		if _, err := keyring.Get(*service, *user); err != nil {
			return err
		}
		lat = append(lat, int64(time.Since(t)))
	}
	p50, p99 := pcts(lat)
	res.WarmP50us, res.WarmP99us = p50/1e3, p99/1e3
	return json.NewEncoder(os.Stdout).Encode(res)
}
