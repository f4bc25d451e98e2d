package credhelper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/portusproject/portus/shared/buildinfo"
)

// MaxInput is the most the helper reads from stdin: docker sends a server
// address (get, erase) or one small JSON object (store).
const MaxInput = 64 << 10

// inputFormat is what docker sends to store, for the messages below.
const inputFormat = `{"ServerURL": "...", "Username": "...", "Secret": "..."}`

// Serve is credentials.Serve with bounded, checked input: it runs the
// action args[1] of h with stdin and stdout and returns the exit status.
// Errors go to stdout, where docker reads them, as credentials.Serve
// prints them. Unlike credentials.Serve it reads at most MaxInput bytes of
// stdin, and an input that is too large, cut short or not JSON gets a
// message that says so without quoting it (it may hold a password).
func Serve(h credentials.Helper, args []string, stdin io.Reader, stdout io.Writer) int {
	if len(args) != 2 {
		_, _ = io.WriteString(stdout, Usage())
		return 1
	}
	action := args[1]
	var err error
	switch action {
	case credentials.ActionVersion, "--version", "-v":
		printVersion(stdout)
		return 0
	case "--help", "-h", "-help", "help":
		_, _ = io.WriteString(stdout, Usage())
		return 0
	case credentials.ActionStore, credentials.ActionGet, credentials.ActionErase:
		err = serveInput(h, action, stdin, stdout)
	default:
		err = credentials.HandleCommand(h, action, stdin, stdout)
	}
	if err != nil {
		_, _ = fmt.Fprintln(stdout, err)
		return 1
	}
	return 0
}

// Usage is what the helper prints when run without an action or asked for
// help: the protocol's actions, which docker runs, and the commands for
// people (see IsCommand), each on its own line.
func Usage() string {
	return fmt.Sprintf("Usage: %s <store|get|erase|list|version>\n       %s %s\n       %s %s\n",
		Name, Name, loginUsage, Name, logoutUsage)
}

// printVersion prints credentials.PrintVersion's line, which other tools
// read as "NAME (PACKAGE) VERSION", unchanged, then the build's commit,
// date and Go version on a line of their own.
func printVersion(stdout io.Writer) {
	_ = credentials.PrintVersion(stdout)
	_, _ = fmt.Fprintln(stdout, buildinfo.Details())
}

// serveInput runs an action that reads stdin, as the credentials package
// does, after reading and checking the input.
func serveInput(h credentials.Helper, action string, stdin io.Reader, stdout io.Writer) error {
	data, err := io.ReadAll(io.LimitReader(stdin, MaxInput+1))
	if err != nil {
		return fmt.Errorf("%s: reading stdin: %w", action, err)
	}
	if len(data) > MaxInput {
		what := "a registry address"
		if action == credentials.ActionStore {
			what = "a small JSON object, " + inputFormat
		}
		return fmt.Errorf("%s: more than 64 KiB on stdin; docker sends %s. Nothing was done: is something other than docker calling %s?",
			action, what, Name)
	}
	if action == credentials.ActionStore {
		creds, err := parseCredentials(data)
		if err != nil {
			return err
		}
		// credentials.Store checks ServerURL and Username the same way.
		if creds.ServerURL == "" {
			return credentials.NewErrCredentialsMissingServerURL()
		}
		if creds.Username == "" {
			return credentials.NewErrCredentialsMissingUsername()
		}
		return h.Add(creds)
	}
	// get and erase: the address, as credentials.Get and Erase read it.
	serverURL := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", ""), "\n", ""))
	if serverURL == "" {
		return credentials.NewErrCredentialsMissingServerURL()
	}
	if action == credentials.ActionErase {
		return h.Delete(serverURL)
	}
	username, secret, err := h.Get(serverURL)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.NewEncoder(&out).Encode(credentials.Credentials{ServerURL: serverURL, Username: username, Secret: secret}); err != nil {
		return err
	}
	_, _ = stdout.Write(out.Bytes())
	return nil
}

// parseCredentials decodes store's input. Its errors say what is wrong by
// position and field name, never by quoting the input.
func parseCredentials(data []byte) (*credentials.Credentials, error) {
	fail := func(why string) error {
		return fmt.Errorf("store: %s. docker sends %s; nothing was stored", why, inputFormat)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail("no credentials on stdin")
	}
	var creds credentials.Credentials
	err := json.NewDecoder(bytes.NewReader(data)).Decode(&creds)
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case err == nil:
		return &creds, nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fail(fmt.Sprintf("the input (%d bytes) ends before the JSON object is complete: it was cut short", len(data)))
	case errors.As(err, &syntax):
		return nil, fail(fmt.Sprintf("the input is not valid JSON at byte %d of %d", syntax.Offset, len(data)))
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return nil, fail("the input is not a JSON object")
	case errors.As(err, &typeErr):
		return nil, fail(fmt.Sprintf("the input's %q is not a string", typeErr.Field))
	default:
		return nil, fail("the input cannot be read as JSON")
	}
}
