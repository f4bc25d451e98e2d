package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/userimport"
)

// verbFlags are the values of the admin verbs' own flags; each verb
// registers those it takes.
type verbFlags struct {
	admin, passwordStdin bool // user create
	asJSON               bool // -o json of the lists
	user                 string
	name, scope          string // token create
	expires              time.Duration
	force                bool   // signing-key retire
	subject              string // user link-sso
	// user import
	htpasswd, dockerAuth string
	dryRun               bool
	admins               repeated
}

// adminCall is one run of an admin verb: its configuration, flags and
// arguments, then the connection to the server.
type adminCall struct {
	env      Env
	cfg      config.Config
	fs       *flag.FlagSet
	args     []string
	flags    verbFlags
	password string           // read from stdin by prepare
	imported *userimport.File // read by user import's prepare
	client   *adminClient
}

// usage prints the verb's help and makes the command exit 2.
func (x *adminCall) usage() error {
	x.fs.Usage()
	return errUsage
}

// runVerb parses the flags and arguments of the admin verb v (path is
// "user create"), connects and runs it.
func (v command) runVerb(env Env, path string, args []string) error {
	x := &adminCall{env: env, fs: newFlags(env, path, v.args)}
	var more func(*flag.FlagSet)
	if v.flags != nil {
		more = func(fs *flag.FlagSet) { v.flags(fs, &x.flags) }
	}
	var err error
	if x.cfg, x.args, err = loadData(env, x.fs, args, more); err != nil {
		return err
	}
	if len(x.args) != v.nargs {
		return x.usage()
	}
	if v.prepare != nil {
		if err := v.prepare(x); err != nil {
			return err
		}
	}
	if x.client, err = connect(x.cfg, env.Stderr, v.init); err != nil {
		return err
	}
	defer x.client.close()
	return v.run(x)
}

// jsonOutput registers -o json.
func jsonOutput(fs *flag.FlagSet, f *verbFlags) {
	fs.Var(jsonFlag{&f.asJSON}, "o", "output format: json")
}

// printList writes v as JSON with -o json, else as a table: the header,
// then the tab-separated lines rows writes.
func printList(x *adminCall, v any, header string, rows func(w io.Writer)) error {
	if x.flags.asJSON {
		return writeJSON(x.env.Stdout, v)
	}
	tw := tabwriter.NewWriter(x.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonFlag is -o json.
type jsonFlag struct{ on *bool }

func (f jsonFlag) String() string { return "" }
func (f jsonFlag) Set(v string) error {
	if v != "json" {
		return fmt.Errorf("only -o json is supported")
	}
	*f.on = true
	return nil
}
