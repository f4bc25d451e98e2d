// Command docker-credential-portus is a Docker credential helper that keeps
// Portus application tokens, never passwords, in the OS keyring. See package
// credhelper for what it does and package config for its configuration.
package main

import (
	"context"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/portusproject/portus/helper/credhelper"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	debug, _ := strconv.ParseBool(os.Getenv(credhelper.EnvDebug))
	credhelper.Identify(version)
	h := credhelper.New(credhelper.Options{Backend: testKeyring(), Debug: debug})
	if len(os.Args) > 1 && credhelper.IsCommand(os.Args[1]) {
		// login and logout, for people: Ctrl-C ends them cleanly.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := h.Command(ctx, os.Args[1:])
		stop()
		os.Exit(code)
	}
	os.Exit(credhelper.Serve(h, os.Args, os.Stdin, os.Stdout))
}
