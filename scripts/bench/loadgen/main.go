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
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

func main() {
	opts := parseFlags()
	l, closeOut := newLoad(opts)
	stats, win := l.run()
	res := report(opts, l.rawTarget != nil, stats, win)
	res.FirstErr, res.Exhausted = l.firstErr, l.exhausted.Load()
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fatal(err)
	}
	closeOut()
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
