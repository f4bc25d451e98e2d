// Package cli is the command line of the portus binary: `serve` and the
// admin commands, one file per resource. Admin commands speak the JSON API
// to the running server over its unix socket in the data directory; when no
// server runs they open the database themselves and serve the same API in
// memory, so both paths run the same handlers. Every command and verb is
// one value of a table (commands, userVerbs, tokenVerbs) from which the
// help is printed; verb.go runs the admin verbs.
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
	"github.com/portusproject/portus/shared/buildinfo"
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

// command is one word of the command line and what it does: a top-level
// command (serve), a resource with verbs (user) or one of those verbs
// (user create). The help is generated from these values, so it lists
// every command there is.
type command struct {
	name    string
	summary string // one line, in the help of the word before
	// main runs a top-level command with the arguments after its name;
	// it parses its own flags.
	main func(env Env, args []string) error
	// verbs are the commands of a resource: `portus user create …`.
	verbs []command

	// An admin verb (verb.go) declares its arguments and flags: the
	// table loads the configuration, checks them, connects to the
	// server and calls run.
	args  string // synopsis after the verb, such as "NAME [--admin] --password-stdin"
	nargs int    // how many arguments it takes
	flags func(fs *flag.FlagSet, f *verbFlags)
	// prepare checks the flags and reads stdin before anything connects.
	prepare func(x *adminCall) error
	run     func(x *adminCall) error
	// init lets the verb create a new data directory (the first `user
	// create` of an installation).
	init bool
}

var commands []command

func init() {
	commands = []command{
		{name: "serve", summary: "run the server", main: runServe},
		{name: "user", summary: "users", verbs: userVerbs},
		{name: "token", summary: "application tokens", verbs: tokenVerbs},
		{name: "backup", summary: "write a consistent copy of the database to a file, while the server runs", main: runBackup},
		{name: "signing-key", summary: "rotate the registry token signing key without downtime", verbs: signingKeyVerbs},
		{name: "registry-config", summary: "write the registry's certificate bundle (or --jwks file) and print its auth: block", main: runRegistryConfig},
		{name: "migrate", summary: "copy everything from one store to another (bbolt:PATH ↔ etcd://…)", main: runMigrate},
		{name: "etcd-secrets-key", summary: "write a new key file for --etcd-secrets-key-file", main: runEtcdSecretsKey},
		{name: "healthcheck", summary: "exit 0 when the configured server answers GET /healthz (the container's HEALTHCHECK)", main: runHealthcheck},
		{name: "config", summary: "the settings", verbs: configVerbs},
		{name: "version", summary: "print the version", main: runVersion},
	}
}

// errUsage is returned after usage has been printed.
var errUsage = errors.New("usage")

// Main runs the command in args (without the program name) and returns the
// exit status.
func Main(env Env, args []string) int {
	if len(args) == 2 && args[0] == "help" && args[1] == "--markdown" {
		if err := helpMarkdown(env.Stdout); err != nil {
			fmt.Fprintf(env.Stderr, "portus help: %v\n", err)
			return 1
		}
		return 0
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(env.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := lookup(commands, args[0])
	if !ok {
		fmt.Fprintf(env.Stderr, "portus: unknown command %q\n\n", args[0])
		printUsage(env.Stderr)
		return 2
	}
	err := c.dispatch(env, args[1:])
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

func lookup(table []command, name string) (command, bool) {
	for _, c := range table {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// dispatch runs a top-level command, or the verb of a resource named by
// the first argument ("user create alice").
func (c command) dispatch(env Env, args []string) error {
	if c.main != nil {
		return c.main(env, args)
	}
	if len(args) > 0 {
		if v, ok := lookup(c.verbs, args[0]); ok {
			if v.main != nil { // a verb that reaches no server
				return v.main(env, args[1:])
			}
			return v.runVerb(env, c.name+" "+v.name, args[1:])
		}
	}
	printVerbs(env.Stderr, c)
	return errUsage
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: portus COMMAND [flags]\n\nCommands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.listing())
	}
	fmt.Fprintln(w, "\nRun 'portus COMMAND -h' for a command's flags. Every setting can also be given as a")
	fmt.Fprintln(w, "PORTUS_* environment variable (--max-tokens is PORTUS_MAX_TOKENS) or in a YAML file (--config).")
}

// listing is c's line in the list of commands; a resource's names its verbs.
func (c command) listing() string {
	if len(c.verbs) == 0 {
		return c.summary
	}
	names := make([]string, len(c.verbs))
	for i, v := range c.verbs {
		names[i] = v.name
	}
	return c.summary + ": " + strings.Join(names, ", ")
}

// printVerbs is the help of a resource: each verb with its synopsis.
func printVerbs(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: portus %s VERB [flags]\n\nVerbs:\n", c.name)
	for _, v := range c.verbs {
		fmt.Fprintf(w, "  portus %s\n        %s\n", strings.TrimSpace(c.name+" "+v.name+" "+v.args), v.summary)
	}
	fmt.Fprintf(w, "\nRun 'portus %s VERB -h' for a verb's flags.\n", c.name)
}

// newFlags returns a flag set whose errors and help go to env.Stderr.
func newFlags(env Env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet("portus "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: %s\n\nFlags:\n", strings.TrimSpace("portus "+name+" "+args))
		fs.PrintDefaults()
	}
	return fs
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
	fmt.Fprintf(env.Stdout, "portus %s (%s)\n%s\n", version, module, buildinfo.Details())
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
