package cli

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/portusproject/portus/server/api"
	"github.com/portusproject/portus/server/registryauth"
)

// signingKeyVerbs are the commands of `portus signing-key`: the rotation
// of the registry token signing key (docs/operators.md "Rotating the signing key").
var signingKeyVerbs = []command{
	{name: "status", summary: "show the published keys, which one signs, their expiry and the last activation",
		args: "[-o json]", flags: jsonOutput, run: signingKeyStatus},
	{name: "rotate", summary: "stage a new key: published by registry-config beside the current one, not signing yet",
		run: signingKeyRotate},
	{name: "activate", summary: "sign with the staged key (after every registry loaded the new bundle); the old one stays published",
		run: signingKeyActivate},
	{name: "retire", summary: "stop publishing the previous certificate, once the longest token lifetime has passed since activation",
		args: "[--force]",
		flags: func(fs *flag.FlagSet, f *verbFlags) {
			fs.BoolVar(&f.force, "force", false, "retire even though tokens signed with the previous key may still be valid")
		},
		run: signingKeyRetire},
}

const signingKeyPath = "/admin/signing-key"

func signingKeyStatus(x *adminCall) error {
	var st registryauth.KeyStatus
	if err := x.client.do(http.MethodGet, signingKeyPath, nil, &st); err != nil {
		return err
	}
	return printKeyStatus(x, st)
}

func signingKeyRotate(x *adminCall) error {
	var st registryauth.KeyStatus
	if err := x.client.do(http.MethodPost, signingKeyPath+"/rotate", nil, &st); err != nil {
		return err
	}
	fmt.Fprintf(x.env.Stderr, "Staged the next signing key %s; the current one keeps signing.\n"+
		"Next: run `portus registry-config` (its bundle now holds both certificates), restart every registry with it,\n"+
		"then run `portus signing-key activate`.\n", keyIDOf(st, registryauth.RoleNext))
	return printKeyStatus(x, st)
}

func signingKeyActivate(x *adminCall) error {
	var st registryauth.KeyStatus
	if err := x.client.do(http.MethodPost, signingKeyPath+"/activate", nil, &st); err != nil {
		return err
	}
	fmt.Fprintf(x.env.Stderr, "The signing key %s signs now (other replicas follow within %s); the previous certificate stays published.\n",
		keyIDOf(st, registryauth.RoleCurrent), registryauth.ReloadInterval)
	if st.RetireAfter != nil {
		fmt.Fprintf(x.env.Stderr, "After %s, run `portus signing-key retire`, then `portus registry-config` and restart every registry.\n",
			st.RetireAfter.Local().Format(time.DateTime))
	}
	return printKeyStatus(x, st)
}

func signingKeyRetire(x *adminCall) error {
	var st registryauth.KeyStatus
	if err := x.client.do(http.MethodPost, signingKeyPath+"/retire", api.RetireRequest{Force: x.flags.force}, &st); err != nil {
		return err
	}
	fmt.Fprintln(x.env.Stderr, "Retired the previous certificate. Run `portus registry-config` and restart every registry: they then refuse the old key's tokens.")
	return printKeyStatus(x, st)
}

func keyIDOf(st registryauth.KeyStatus, role string) string {
	for _, k := range st.Keys {
		if k.Role == role {
			return k.KeyID
		}
	}
	return "(none)"
}

func printKeyStatus(x *adminCall, st registryauth.KeyStatus) error {
	err := printList(x, st, "ROLE\tSIGNING\tKEY ID\tALGORITHM\tEXPIRES", func(w io.Writer) {
		for _, k := range st.Keys {
			signing := "no"
			if k.Signing {
				signing = "yes"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Role, signing, k.KeyID, k.Algorithm, k.NotAfter.Local().Format(time.DateTime))
		}
	})
	if err != nil || x.flags.asJSON {
		return err
	}
	if st.ActivatedAt != nil {
		fmt.Fprintf(x.env.Stdout, "Last activation: %s; a previous certificate may be retired after %s.\n",
			st.ActivatedAt.Local().Format(time.DateTime), st.RetireAfter.Local().Format(time.DateTime))
	}
	return nil
}
