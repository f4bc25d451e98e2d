// Command docker-credential-portus is a Docker credential helper that keeps
// Portus application tokens, never passwords, in the OS keyring. See package
// credhelper for what it does and package config for its configuration.
package main

import (
	"os"
	"strconv"

	"github.com/portusproject/portus/helper/credhelper"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	debug, _ := strconv.ParseBool(os.Getenv(credhelper.EnvDebug))
	credhelper.Identify(version)
	h := credhelper.New(credhelper.Options{Backend: testKeyring(), Debug: debug})
	os.Exit(credhelper.Serve(h, os.Args, os.Stdin, os.Stdout))
}
