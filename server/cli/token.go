package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

func runToken(env Env, args []string) error {
	verb, args, err := subcommand(env, "token", []string{"create", "list", "revoke"}, args)
	if err != nil {
		return err
	}
	var (
		user, name, scope string
		expires           time.Duration
		asJSON            bool
	)
	fs := newFlags(env, "token "+verb, map[string]string{
		"create": "--user NAME --name APP [--scope pull|push|delete] [--expires DURATION]",
		"list":   "--user NAME [-o json]",
		"revoke": "--user NAME ID",
	}[verb])
	c, rest, err := loadData(env, fs, args, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "owner of the tokens (required)")
		switch verb {
		case "create":
			fs.StringVar(&name, "name", "", "name of the token, e.g. the machine or application (required)")
			fs.StringVar(&scope, "scope", "", "pull, push (default) or delete; each includes the ones before")
			fs.DurationVar(&expires, "expires", 0, "lifetime, e.g. 720h (default: never expires)")
		case "list":
			fs.Var(jsonFlag{&asJSON}, "o", "output format: json")
		}
	})
	if err != nil {
		return err
	}
	wantArgs := 0
	if verb == "revoke" {
		wantArgs = 1
	}
	if user == "" || len(rest) != wantArgs || (verb == "create" && name == "") {
		fs.Usage()
		return errUsage
	}
	client, err := connect(c, env.Stderr, false)
	if err != nil {
		return err
	}
	defer client.close()
	base := "/api/v1/users/" + url.PathEscape(user) + "/tokens"

	switch verb {
	case "create":
		req := apitypes.CreateTokenRequest{Name: name, Scope: scope}
		if expires > 0 {
			at := time.Now().Add(expires).UTC()
			req.ExpiresAt = &at
		} else if expires < 0 {
			return fmt.Errorf("--expires %s: must be positive", expires)
		}
		var created apitypes.CreatedToken
		if err := client.do(http.MethodPost, base, req, &created); err != nil {
			return err
		}
		// stdout carries the token and nothing else, so that scripts can
		// capture it; the rest goes to stderr.
		fmt.Fprintln(env.Stdout, created.Token)
		fmt.Fprintf(env.Stderr, "Created token %q (id %s, scope %s) for %s. It is shown only now: store it safely.\n", created.Name, created.ID, created.Scope, user)
	case "list":
		var tokens []apitypes.Token
		if err := client.do(http.MethodGet, base, nil, &tokens); err != nil {
			return err
		}
		if asJSON {
			return writeJSON(env.Stdout, tokens)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tEXPIRES\tLAST USED\tVIA")
		for _, t := range tokens {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope,
				t.CreatedAt.Local().Format(time.DateTime), timeOr(t.ExpiresAt, "never"), timeOr(t.LastUsedAt, "never"), t.CreatedVia)
		}
		return tw.Flush()
	case "revoke":
		if err := client.do(http.MethodDelete, base+"/"+url.PathEscape(rest[0]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "Revoked token %s of %s.\n", rest[0], user)
	}
	return nil
}

func timeOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.Local().Format(time.DateTime)
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
