// Command benchrun drives scripts/bench: it starts `portus serve` as a user
// would (the built binary, its own data directory, a loopback port), runs
// the load generator (scripts/bench/loadgen, a separate process) against
// it, and prints one markdown table with the results and the issue's
// targets as ratios measured in the same run.
//
// Subcommands (run, the default, calls the others as child processes):
//
//	run       the whole benchmark (see scripts/bench)
//	sign      raw ES256 signing rate: a sequential Issuer.Issue loop
//	bare      calibration server: net/http + Basic + sign, nothing else
//	populate  fill a data directory offline with users × tokens
//	keyring   go-keyring Get timings inside one process (D-Bus round trips)
package main

import (
	"fmt"
	"os"
)

func main() {
	cmd, args := "run", os.Args[1:]
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = cmdRun(args)
	case "sign":
		err = cmdSign(args)
	case "bare":
		err = cmdBare(args)
	case "populate":
		err = cmdPopulate(args)
	case "keyring":
		err = cmdKeyring(args)
	default:
		err = fmt.Errorf("unknown command %q (run, sign, bare, populate, keyring)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}
