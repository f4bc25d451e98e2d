// Package cli is the command line of the portus binary: `serve` and the
// admin commands, one file per resource. Admin commands speak the JSON API
// to the running server over its unix socket in the data directory; when no
// server runs they open the database themselves and serve the same API in
// memory, so both paths run the same handlers.
package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/portusproject/portus/server/config"
)

// Version is set at build time with -ldflags "-X .../server/cli.Version=v1.2.3".
var Version = ""

// Env is what a command may touch of its process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// OSEnv is the environment of the running process.
func OSEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

type command struct {
	name  string
	usage string
	run   func(env Env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"serve", "run the server", runServe},
		{"user", "create, list, disable or enable users", runUser},
		{"token", "create, list or revoke application tokens", runToken},
		{"backup", "write a consistent copy of the database to a file, while the server runs", runBackup},
		{"registry-config", "write the certificate bundle and print the registry's auth: block", runRegistryConfig},
		{"migrate", "copy everything from one store to another (bbolt:PATH ↔ etcd://…)", runMigrate},
		{"etcd-secrets-key", "write a new key file for --etcd-secrets-key-file", runEtcdSecretsKey},
		{"version", "print the version", runVersion},
	}
}

// errUsage is returned after usage has been printed.
var errUsage = errors.New("usage")

// Main runs the command in args (without the program name) and returns the
// exit status.
func Main(env Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(env, args[1:])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
				return 2
			default:
				fmt.Fprintf(env.Stderr, "portus %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(env.Stderr, "portus: unknown command %q\n\n", args[0])
	printUsage(env.Stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: portus COMMAND [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun 'portus COMMAND -h' for a command's flags. Every setting can also be given as a")
	fmt.Fprintln(w, "PORTUS_* environment variable (--max-tokens is PORTUS_MAX_TOKENS) or in a YAML file (--config).")
}

// newFlags returns a flag set whose errors and help go to env.Stderr.
func newFlags(env Env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet("portus "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: portus %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// subcommand splits "user create alice" into the verb and the rest.
func subcommand(env Env, resource string, verbs []string, args []string) (string, []string, error) {
	if len(args) > 0 {
		for _, v := range verbs {
			if args[0] == v {
				return v, args[1:], nil
			}
		}
	}
	fmt.Fprintf(env.Stderr, "Usage: portus %s %s [flags]\n", resource, strings.Join(verbs, "|"))
	return "", nil, errUsage
}

// readPassword reads one line from stdin, as `--password-stdin` promises.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin: pipe it in, e.g. `printf '%s' \"$PASSWORD\" | portus user create NAME --password-stdin`")
	}
	return line, nil
}

func runVersion(env Env, args []string) error {
	module, version := "github.com/portusproject/portus", Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		module = bi.Main.Path
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
	}
	if version == "" {
		version = "devel"
	}
	fmt.Fprintf(env.Stdout, "portus %s (%s)\n", version, module)
	return nil
}

// loadData loads the configuration of an admin command: only --data and
// --config matter, plus the command's own flags registered by more.
func loadData(env Env, fs *flag.FlagSet, args []string, more func(*flag.FlagSet)) (config.Config, []string, error) {
	return config.Load(fs, func(fs *flag.FlagSet, c *config.Config) {
		config.DataFlags(fs, c)
		if more != nil {
			more(fs)
		}
	}, args, env.Getenv)
}
