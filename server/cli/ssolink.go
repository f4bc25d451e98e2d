package cli

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/portusproject/portus/shared/apitypes"
)

// linkSSO lets a person whose company account has the name of an existing
// Portus account sign in to it by single sign-on (account.LinkSSO).
func linkSSO(x *adminCall) error {
	path := "/api/v1/users/" + url.PathEscape(x.args[0]) + "/sso-link"
	var body any
	if x.flags.subject != "" {
		body = apitypes.LinkSSORequest{Subject: x.flags.subject}
	}
	if err := x.client.do(http.MethodPost, path, body, nil); err != nil {
		return err
	}
	who := "the next single sign-on with that name"
	if x.flags.subject != "" {
		who = "single sign-on of subject " + x.flags.subject + " (only)"
	}
	fmt.Fprintf(x.env.Stderr, "Linked %q: %s signs in to this account, which keeps its password and administrator flag.\n", x.args[0], who)
	return nil
}
