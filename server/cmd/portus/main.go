// Command portus is the Portus server and its admin command line.
package main

import (
	"os"

	"github.com/portusproject/portus/server/cli"
)

func main() { os.Exit(cli.Main(cli.OSEnv(), os.Args[1:])) }
