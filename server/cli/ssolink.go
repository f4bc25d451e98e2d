package cli

import (
	"fmt"
	"net/http"
	"net/url"
)

// linkSSO lets a person whose company account has the name of an existing
// Portus account sign in to it by single sign-on (account.LinkSSO).
func linkSSO(x *adminCall) error {
	path := "/api/v1/users/" + url.PathEscape(x.args[0]) + "/sso-link"
	if err := x.client.do(http.MethodPost, path, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(x.env.Stderr, "Linked %q: the next single sign-on with that name signs in to this account, which keeps its password and administrator flag.\n", x.args[0])
	return nil
}
