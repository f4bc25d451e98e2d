package main

import (
	"flag"
	"net/http"
	"os"
	"strings"
	"time"
)

// options are the command line; see the package doc for the modes.
type options struct {
	mode, target, unix, method string
	clients                    int
	dur, warmup                time.Duration
	auth, creds, body          string
	expect                     int
	out, in                    string
	self                       bool
	user                       string
	maxReq                     int
	raw                        bool
	form                       bool
}

// parseFlags reads the command line, filling in the mode's default method
// and expected status; a missing -url or -c below 1 exits with the usage.
func parseFlags() options {
	var o options
	flag.StringVar(&o.mode, "mode", "fixed", "fixed, create or revoke")
	flag.StringVar(&o.target, "url", "", "request URL ({user}, {id} are substituted)")
	flag.StringVar(&o.unix, "unix", "", "connect to this unix socket instead of the URL's host")
	flag.StringVar(&o.method, "method", "", "HTTP method (default GET; POST for create, DELETE for revoke)")
	flag.IntVar(&o.clients, "c", 1, "concurrent clients, one connection each")
	flag.DurationVar(&o.dur, "d", 5*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before -d")
	flag.StringVar(&o.auth, "auth", "", "user:secret for HTTP Basic (empty: anonymous)")
	flag.StringVar(&o.creds, "creds", "", "file of \"user secret\" lines, used in turn (instead of -auth)")
	flag.StringVar(&o.body, "body", "", "request body (create: {n} is a unique number)")
	flag.IntVar(&o.expect, "expect", 0, "status that counts as success (default 200, 201 for create, 204 for revoke)")
	flag.StringVar(&o.out, "out", "", "create: write \"id token\" lines here")
	flag.StringVar(&o.in, "in", "", "revoke: read \"id token\" lines from here")
	flag.BoolVar(&o.self, "self", false, "revoke: authenticate each DELETE with its own token")
	flag.StringVar(&o.user, "user", "", "revoke -self: the tokens' owner")
	flag.IntVar(&o.maxReq, "max", 0, "stop after this many measured requests (0: no limit)")
	flag.BoolVar(&o.raw, "raw", true, "fixed mode over TCP: a minimal HTTP/1.1 client (pre-built requests, keep-alive) instead of net/http, so that the load generator leaves the CPU to the server")
	flag.BoolVar(&o.form, "form", false, "fixed mode: send -body as application/x-www-form-urlencoded (the token endpoint's POST grants), through the minimal client when -raw")
	flag.Parse()
	if o.target == "" || o.clients < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if o.method == "" {
		o.method = map[string]string{"create": http.MethodPost, "revoke": http.MethodDelete}[o.mode]
		if o.method == "" {
			o.method = http.MethodGet
		}
	}
	if o.expect == 0 {
		o.expect = map[string]int{"create": http.StatusCreated, "revoke": http.StatusNoContent}[o.mode]
		if o.expect == 0 {
			o.expect = http.StatusOK
		}
	}
	return o
}

type cred struct {
	user, header string
}

// credentials are the ones -creds or -auth name, none for anonymous
// requests.
func credentials(o options) []cred {
	switch {
	case o.creds != "":
		lines, err := readLines(o.creds)
		if err != nil {
			fatal(err)
		}
		var list []cred
		for _, l := range lines {
			u, s, _ := strings.Cut(l, " ")
			list = append(list, cred{u, basic(u, s)})
		}
		return list
	case o.auth != "":
		u, s, _ := strings.Cut(o.auth, ":")
		return []cred{{u, basic(u, s)}}
	}
	return nil
}
