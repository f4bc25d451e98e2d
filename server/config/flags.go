package config

import (
	"errors"
	"flag"
	"strings"
)

// The flag plumbing under Load: flags among arguments, repeatable flags
// and their comma-separated environment form.

// parseInterspersed parses flags wherever they stand among the arguments
// ("user create alice --admin") and returns the other arguments in order.
// A "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		remaining := fs.Args()
		if len(remaining) == 0 {
			return rest, nil
		}
		if n := len(args) - len(remaining); n > 0 && args[n-1] == "--" {
			return append(rest, remaining...), nil
		}
		rest = append(rest, remaining[0])
		args = remaining[1:]
	}
}

// splitEnv lets a list setting take several comma-separated values.
func splitEnv(f *flag.Flag, v string) []string {
	if _, ok := f.Value.(*listValue); ok {
		return strings.Split(v, ",")
	}
	return []string{v}
}

// listValue is a repeatable flag.
type listValue struct{ list *[]string }

func (l *listValue) String() string {
	if l.list == nil {
		return ""
	}
	return strings.Join(*l.list, ",")
}

func (l *listValue) Set(v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return errors.New("must not be empty")
	}
	*l.list = append(*l.list, v)
	return nil
}
