package cli

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

// tokenVerbs are the commands of `portus token`.
var tokenVerbs = []command{
	{name: "create", summary: "mint a token; stdout has the token and nothing else",
		args: "--user NAME --name APP [--scope pull|push|delete] [--expires DURATION]",
		flags: func(fs *flag.FlagSet, f *verbFlags) {
			ownerFlag(fs, f)
			fs.StringVar(&f.name, "name", "", "name of the token, e.g. the machine or application (required)")
			fs.StringVar(&f.scope, "scope", "", "pull, push (default) or delete; each includes the ones before")
			fs.DurationVar(&f.expires, "expires", 0, "lifetime, e.g. 720h (default: never expires)")
		},
		prepare: func(x *adminCall) error {
			if x.flags.name == "" {
				return x.usage()
			}
			return needOwner(x)
		},
		run: createToken},
	{name: "list", summary: "list a user's tokens (never their secrets)",
		args: "--user NAME [-o json]",
		flags: func(fs *flag.FlagSet, f *verbFlags) {
			ownerFlag(fs, f)
			jsonOutput(fs, f)
		},
		prepare: needOwner, run: listTokens},
	{name: "revoke", summary: "revoke a token: it stops working at once",
		args: "--user NAME ID", nargs: 1, flags: ownerFlag, prepare: needOwner, run: revokeToken},
}

// ownerFlag registers --user, which every token verb needs.
func ownerFlag(fs *flag.FlagSet, f *verbFlags) {
	fs.StringVar(&f.user, "user", "", "owner of the tokens (required)")
}

func needOwner(x *adminCall) error {
	if x.flags.user == "" {
		return x.usage()
	}
	return nil
}

// tokensPath is the API path of the owner's tokens.
func tokensPath(x *adminCall) string {
	return "/api/v1/users/" + url.PathEscape(x.flags.user) + "/tokens"
}

func createToken(x *adminCall) error {
	req := apitypes.CreateTokenRequest{Name: x.flags.name, Scope: x.flags.scope}
	if expires := x.flags.expires; expires > 0 {
		at := time.Now().Add(expires).UTC()
		req.ExpiresAt = &at
	} else if expires < 0 {
		return fmt.Errorf("--expires %s: must be positive", expires)
	}
	var created apitypes.CreatedToken
	if err := x.client.do(http.MethodPost, tokensPath(x), req, &created); err != nil {
		return err
	}
	// stdout carries the token and nothing else, so that scripts can
	// capture it; the rest goes to stderr.
	fmt.Fprintln(x.env.Stdout, created.Token)
	fmt.Fprintf(x.env.Stderr, "Created token %q (id %s, scope %s) for %s. It is shown only now: store it safely.\n", created.Name, created.ID, created.Scope, x.flags.user)
	return nil
}

func listTokens(x *adminCall) error {
	var tokens []apitypes.Token
	if err := x.client.do(http.MethodGet, tokensPath(x), nil, &tokens); err != nil {
		return err
	}
	return printList(x, tokens, "ID\tNAME\tSCOPE\tCREATED\tEXPIRES\tLAST USED\tVIA\tKIND", func(w io.Writer) {
		for _, t := range tokens {
			kind := t.Kind
			if t.Expired {
				kind += " (expired)"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope,
				t.CreatedAt.Local().Format(time.DateTime), timeOr(t.ExpiresAt, "never"), timeOr(t.LastUsedAt, "never"), t.CreatedVia, kind)
		}
	})
}

func revokeToken(x *adminCall) error {
	if err := x.client.do(http.MethodDelete, tokensPath(x)+"/"+url.PathEscape(x.args[0]), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(x.env.Stderr, "Revoked token %s of %s.\n", x.args[0], x.flags.user)
	return nil
}

func timeOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.Local().Format(time.DateTime)
}
