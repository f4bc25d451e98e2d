package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

func runUser(env Env, args []string) error {
	verb, args, err := subcommand(env, "user", []string{"create", "list", "disable", "enable"}, args)
	if err != nil {
		return err
	}
	var (
		admin, passwordStdin, asJSON bool
	)
	fs := newFlags(env, "user "+verb, map[string]string{
		"create":  "NAME [--admin] --password-stdin",
		"list":    "[-o json]",
		"disable": "NAME",
		"enable":  "NAME",
	}[verb])
	c, rest, err := loadData(env, fs, args, func(fs *flag.FlagSet) {
		switch verb {
		case "create":
			fs.BoolVar(&admin, "admin", false, "make the user an administrator")
			fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin (required)")
		case "list":
			fs.Var(jsonFlag{&asJSON}, "o", "output format: json")
		}
	})
	if err != nil {
		return err
	}
	wantArgs := 1
	if verb == "list" {
		wantArgs = 0
	}
	if len(rest) != wantArgs {
		fs.Usage()
		return errUsage
	}
	var password string
	if verb == "create" {
		if !passwordStdin {
			return errors.New("give the password on stdin with --password-stdin; passwords are never taken as arguments")
		}
		if password, err = readPassword(env.Stdin); err != nil {
			return err
		}
	}
	client, err := connect(c, env.Stderr)
	if err != nil {
		return err
	}
	defer client.close()

	switch verb {
	case "create":
		var u apitypes.User
		if err := client.do(http.MethodPost, "/api/v1/users", apitypes.CreateUserRequest{Name: rest[0], Password: password, Admin: admin}, &u); err != nil {
			return err
		}
		role := "user"
		if u.Admin {
			role = "administrator"
		}
		fmt.Fprintf(env.Stderr, "Created %s %q.\n", role, u.Name)
	case "list":
		var users []apitypes.User
		if err := client.do(http.MethodGet, "/api/v1/users", nil, &users); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(env.Stdout, users)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tADMIN\tDISABLED\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, yesNo(u.Admin), yesNo(u.Disabled), u.CreatedAt.Local().Format(time.DateTime))
		}
		return tw.Flush()
	case "disable", "enable":
		disabled := verb == "disable"
		if err := client.do(http.MethodPatch, "/api/v1/users/"+url.PathEscape(rest[0]), apitypes.UpdateUserRequest{Disabled: &disabled}, nil); err != nil {
			return err
		}
		if disabled {
			fmt.Fprintf(env.Stderr, "Disabled %q: their tokens and sessions stop working now.\n", rest[0])
		} else {
			fmt.Fprintf(env.Stderr, "Enabled %q.\n", rest[0])
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
