package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/userimport"
	"github.com/portusproject/portus/shared/apitypes"
)

// importVerb is `portus user import`: the users of an htpasswd file or a
// docker_auth configuration, with their bcrypt hashes, over the admin
// socket (or offline). The file is read here, so its lines can be named;
// the server creates the users (account.ImportUsers).
var importVerb = command{
	name:    "import",
	summary: "adopt the users of an htpasswd file or docker_auth configuration, passwords (bcrypt) and all",
	args:    "--htpasswd FILE | --docker-auth FILE [--admin NAME]... [--dry-run]", init: true,
	flags: func(fs *flag.FlagSet, f *verbFlags) {
		fs.StringVar(&f.htpasswd, "htpasswd", "", "the registry's htpasswd `FILE` (bcrypt lines, htpasswd -B)")
		fs.StringVar(&f.dockerAuth, "docker-auth", "", "a docker_auth configuration `FILE` (its users: and acl:)")
		fs.Var(&f.admins, "admin", "make the imported user `NAME` an administrator (repeatable)")
		fs.BoolVar(&f.dryRun, "dry-run", false, "print what would happen and change nothing")
	},
	prepare: readImportFile, run: importUsers,
}

// importBatch is how many users go in one request: the API's bodies are
// bounded (64 KiB), a bcrypt line is about 70 bytes.
const importBatch = 200

// readImportFile reads and checks the file before anything connects: the
// hashes that are not bcrypt become refused lines.
func readImportFile(x *adminCall) error {
	f := x.flags
	if (f.htpasswd == "") == (f.dockerAuth == "") {
		return errors.New("give the file to import with --htpasswd FILE or --docker-auth FILE (one of them)")
	}
	path := f.htpasswd + f.dockerAuth
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the file to import: %w", err)
	}
	var file *userimport.File
	if f.htpasswd != "" {
		file, err = userimport.ParseHtpasswd(bytes.NewReader(data))
	} else {
		file, err = userimport.ParseDockerAuth(data)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	users := file.Users[:0]
	for _, e := range file.Users {
		if _, err := account.CheckLegacyHash(e.Hash); err != nil {
			file.Refused = append(file.Refused, userimport.Refused{Line: e.Line, Name: e.Name, Reason: "password hash: " + err.Error()})
			continue
		}
		users = append(users, e)
	}
	file.Users = users
	for _, a := range f.admins {
		if !slices.ContainsFunc(file.Users, func(e userimport.Entry) bool { return e.Name == a }) {
			return fmt.Errorf("--admin %s: %s has no importable user of that name", a, path)
		}
	}
	x.imported = file
	return nil
}

// importLine is one line of the report.
type importLine struct {
	line         int
	name, result string
	reason       string
}

func importUsers(x *adminCall) error {
	file := x.imported
	var report []importLine
	for _, r := range file.Refused {
		report = append(report, importLine{r.Line, r.Name, apitypes.ImportRefused, r.Reason})
	}
	for start := 0; start < len(file.Users); start += importBatch {
		batch := file.Users[start:min(start+importBatch, len(file.Users))]
		req := apitypes.ImportUsersRequest{DryRun: x.flags.dryRun}
		for _, e := range batch {
			req.Users = append(req.Users, apitypes.ImportUser{Name: e.Name, PasswordHash: e.Hash, Admin: slices.Contains(x.flags.admins, e.Name)})
		}
		var resp apitypes.ImportUsersResponse
		if err := x.client.do(http.MethodPost, apitypes.ImportUsersPath, req, &resp); err != nil {
			return fmt.Errorf("importing (%d users done before this): %w", start, err)
		}
		if len(resp.Results) != len(batch) {
			return fmt.Errorf("the server answered %d results for %d users", len(resp.Results), len(batch))
		}
		for i, r := range resp.Results {
			report = append(report, importLine{batch[i].Line, r.Name, r.Result, r.Reason})
		}
	}
	slices.SortFunc(report, func(a, b importLine) int { return a.line - b.line })
	if err := printImport(x, report); err != nil {
		return err
	}
	return summarizeImport(x, report)
}

func printImport(x *adminCall, report []importLine) error {
	tw := tabwriter.NewWriter(x.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tUSER\tRESULT\tREASON")
	for _, l := range report {
		name := l.name
		if slices.Contains(x.flags.admins, name) && (l.result == apitypes.ImportCreated || l.result == apitypes.ImportWouldCreate) {
			name += " (admin)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", l.line, name, l.result, l.reason)
	}
	if len(x.imported.ACL) > 0 {
		fmt.Fprintln(tw, "\nACL RULE (docker_auth)\tPORTUS\tINSTEAD\t")
		for _, r := range x.imported.ACL {
			e := userimport.Explain(r, x.flags.admins)
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", r, e.Verdict, e.Instead)
		}
	}
	return tw.Flush()
}

// summarizeImport counts the report on stderr and fails the command when
// lines were refused: those users cannot sign in yet.
func summarizeImport(x *adminCall, report []importLine) error {
	count := map[string]int{}
	var refused []string
	for _, l := range report {
		count[l.result]++
		if l.result == apitypes.ImportRefused {
			refused = append(refused, fmt.Sprint(l.line))
		}
	}
	if x.flags.dryRun {
		fmt.Fprintf(x.env.Stderr, "Dry run, nothing changed: %d would be created, %d exist already, %d refused.\n",
			count[apitypes.ImportWouldCreate], count[apitypes.ImportExists], len(refused))
	} else {
		fmt.Fprintf(x.env.Stderr, "Imported %d users (they sign in with their old passwords, rehashed with argon2id at the first sign-in); %d existed already and were left alone; %d refused.\n",
			count[apitypes.ImportCreated], count[apitypes.ImportExists], len(refused))
	}
	if len(x.imported.ACL) > 0 {
		fmt.Fprintln(x.env.Stderr, "Portus has no ACL: the table above says what its policy does instead of each docker_auth rule.")
	}
	if len(refused) > 0 {
		return fmt.Errorf("refused line(s) %s (see above): fix them and import again, or give those users a password with `portus user create NAME --password-stdin`", strings.Join(refused, ", "))
	}
	return nil
}

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error {
	*r = append(*r, v)
	return nil
}
