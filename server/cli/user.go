package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

// userVerbs are the commands of `portus user`.
var userVerbs = []command{
	{name: "create", summary: "add an account; the password comes from stdin, never from an argument",
		args: "NAME [--admin] --password-stdin", nargs: 1, init: true,
		flags: func(fs *flag.FlagSet, f *verbFlags) {
			fs.BoolVar(&f.admin, "admin", false, "make the user an administrator")
			fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from stdin (required)")
		},
		prepare: readNewPassword, run: createUser},
	{name: "list", summary: "list the accounts",
		args: "[-o json]", flags: jsonOutput, run: listUsers},
	{name: "disable", summary: "disable an account: its tokens and sessions stop working at once",
		args: "NAME", nargs: 1, run: func(x *adminCall) error { return setDisabled(x, true) }},
	{name: "enable", summary: "enable a disabled account again",
		args: "NAME", nargs: 1, run: func(x *adminCall) error { return setDisabled(x, false) }},
	{name: "unlock", summary: "lift the sign-in lock that failed passwords put on a user (on the running server)",
		args: "NAME", nargs: 1, run: unlockUser},
	{name: "set-password", summary: "give a user a new password (a reset), from stdin; ends their web sessions and lifts their sign-in lock",
		args: "NAME --password-stdin", nargs: 1,
		flags: func(fs *flag.FlagSet, f *verbFlags) {
			fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the new password from stdin (required)")
		},
		prepare: readNewPassword, run: setPassword},
	// The user's docker_login policy; "default" follows the server's.
	{name: "set-docker-login", summary: "whether docker login takes the user's password; default: the server's policy",
		args: "NAME tokens_only|passwords_allowed|default", nargs: 2, run: setDockerLogin},
	{name: "link-sso", summary: "let single sign-on with this name use the existing local or LDAP account (which keeps its password)",
		args: "NAME [--subject SUB]", nargs: 1, run: linkSSO, flags: func(fs *flag.FlagSet, f *verbFlags) {
			fs.StringVar(&f.subject, "subject", "", "only the person the provider knows by this subject (`SUB`, its \"sub\" claim) may use the account (default: the next single sign-on with the name binds its subject)")
		}},
	importVerb,
}

func readNewPassword(x *adminCall) error {
	if !x.flags.passwordStdin {
		return errors.New("give the password on stdin with --password-stdin; passwords are never taken as arguments")
	}
	var err error
	x.password, err = readPassword(x.env.Stdin)
	return err
}

func createUser(x *adminCall) error {
	var u apitypes.User
	req := apitypes.CreateUserRequest{Name: x.args[0], Password: x.password, Admin: x.flags.admin}
	if err := x.client.do(http.MethodPost, "/api/v1/users", req, &u); err != nil {
		return err
	}
	role := "user"
	if u.Admin {
		role = "administrator"
	}
	fmt.Fprintf(x.env.Stderr, "Created %s %q.\n", role, u.Name)
	return nil
}

func listUsers(x *adminCall) error {
	var users []apitypes.User
	if err := x.client.do(http.MethodGet, "/api/v1/users", nil, &users); err != nil {
		return err
	}
	return printList(x, users, "NAME\tADMIN\tDISABLED\tCREATED", func(w io.Writer) {
		for _, u := range users {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, yesNo(u.Admin), yesNo(u.Disabled), u.CreatedAt.Local().Format(time.DateTime))
		}
	})
}

// updateUser patches the user named by the first argument.
func updateUser(x *adminCall, req apitypes.UpdateUserRequest, out any) error {
	return x.client.do(http.MethodPatch, "/api/v1/users/"+url.PathEscape(x.args[0]), req, out)
}

func setDisabled(x *adminCall, disabled bool) error {
	if err := updateUser(x, apitypes.UpdateUserRequest{Disabled: &disabled}, nil); err != nil {
		return err
	}
	if disabled {
		fmt.Fprintf(x.env.Stderr, "Disabled %q: their tokens and sessions stop working now.\n", x.args[0])
	} else {
		fmt.Fprintf(x.env.Stderr, "Enabled %q.\n", x.args[0])
	}
	return nil
}

// unlockUser lifts the sign-in lock. The lock lives in the running
// server's memory: this reaches it over the admin socket (offline there is
// nothing to lift).
func unlockUser(x *adminCall) error {
	if err := updateUser(x, apitypes.UpdateUserRequest{Unlock: true}, nil); err != nil {
		return err
	}
	fmt.Fprintf(x.env.Stderr, "Lifted the sign-in lock of %q: their password is checked again.\n", x.args[0])
	return nil
}

// setPassword resets a user's password for an administrator. The user's
// application tokens keep working: revoking them is a separate choice.
func setPassword(x *adminCall) error {
	path := "/api/v1/users/" + url.PathEscape(x.args[0]) + "/password"
	if err := x.client.do(http.MethodPut, path, apitypes.SetPasswordRequest{Password: x.password}, nil); err != nil {
		return err
	}
	fmt.Fprintf(x.env.Stderr, "Set a new password for %q: their web sessions ended. Their application tokens still work (revoke them with `portus token revoke` if the account was compromised).\n", x.args[0])
	return nil
}

// setDockerLogin sets a user's docker_login policy: whether `docker login`
// (the registry token endpoint) accepts their password or only tokens.
func setDockerLogin(x *adminCall) error {
	value := x.args[1]
	if value == "default" {
		value = ""
	}
	var u apitypes.User
	if err := updateUser(x, apitypes.UpdateUserRequest{DockerLogin: &value}, &u); err != nil {
		return err
	}
	if u.DockerLogin == "" {
		fmt.Fprintf(x.env.Stderr, "%q follows the server's docker_login policy.\n", u.Name)
	} else {
		fmt.Fprintf(x.env.Stderr, "docker_login of %q is now %s.\n", u.Name, u.DockerLogin)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
