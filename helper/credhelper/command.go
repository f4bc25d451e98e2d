package credhelper

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Commands for people, beside the protocol's store/get/erase/list that
// docker calls: `login` obtains a token by the device authorization grant
// (login.go), `logout` gives it back (logout.go).
var commands = map[string]func(h *Helper, ctx context.Context, args []string) error{
	"login":  (*Helper).loginCommand,
	"logout": (*Helper).logoutCommand,
}

// IsCommand reports whether verb is one of the commands for people rather
// than a protocol action.
func IsCommand(verb string) bool { _, ok := commands[verb]; return ok }

// Command runs args[0] (see IsCommand) with the rest of args and returns
// the exit status: 0, or 1 after the error went to stderr. ctx ends the
// command early (Ctrl-C), as a failure.
func (h *Helper) Command(ctx context.Context, args []string) int {
	err := commands[args[0]](h, ctx, args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		h.notify("%v", err)
		return 1
	}
	return 0
}

// parseArgs parses args with fs, flags before or after the positional
// arguments (`login --no-browser HOST` and `login HOST --no-browser`), and
// returns the positional ones, which must number want.
func parseArgs(fs *flag.FlagSet, args []string, want int, usage string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%v; usage: %s %s", err, Name, usage)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) != want {
		return nil, fmt.Errorf("usage: %s %s", Name, usage)
	}
	return positional, nil
}

// helpRequested prints the usage of a command on stderr when args ask for
// it, and reports whether they did.
func (h *Helper) helpRequested(args []string, usage, about string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintf(h.stderr, "usage: %s %s\n\n%s\n", Name, usage, strings.TrimSpace(about))
			return true
		}
	}
	return false
}
