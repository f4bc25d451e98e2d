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
	verb, args, err := subcommand(env, "user", []string{"create", "list", "disable", "enable", "unlock", "set-docker-login"}, args)
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
		"unlock":  "NAME",
		// The user's docker_login policy; "default" follows the server's.
		"set-docker-login": "NAME tokens_only|passwords_allowed|default",
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
	switch verb {
	case "list":
		wantArgs = 0
	case "set-docker-login":
		wantArgs = 2
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
	client, err := connect(c, env.Stderr, verb == "create")
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
	case "unlock":
		// The lock lives in the running server's memory: this reaches it
		// over the admin socket (offline there is nothing to lift).
		if err := client.do(http.MethodPatch, "/api/v1/users/"+url.PathEscape(rest[0]), apitypes.UpdateUserRequest{Unlock: true}, nil); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "Lifted the sign-in lock of %q: their password is checked again.\n", rest[0])
	case "set-docker-login":
		return setDockerLogin(env, client, rest[0], rest[1])
	}
	return nil
}

// setDockerLogin sets a user's docker_login policy: whether `docker login`
// (the registry token endpoint) accepts their password or only tokens.
func setDockerLogin(env Env, client *adminClient, name, policy string) error {
	value := policy
	if policy == "default" {
		value = ""
	}
	var u apitypes.User
	if err := client.do(http.MethodPatch, "/api/v1/users/"+url.PathEscape(name), apitypes.UpdateUserRequest{DockerLogin: &value}, &u); err != nil {
		return err
	}
	if u.DockerLogin == "" {
		fmt.Fprintf(env.Stderr, "%q follows the server's docker_login policy.\n", u.Name)
	} else {
		fmt.Fprintf(env.Stderr, "docker_login of %q is now %s.\n", u.Name, u.DockerLogin)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
