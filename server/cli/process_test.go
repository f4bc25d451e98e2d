package cli_test

// Process-level tests: the real portus binary, built once in TestMain,
// serving on a temporary data directory, driven by its own admin commands
// and over HTTP.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/shared/apitypes"
	"github.com/portusproject/portus/shared/apptoken"
)

var portusBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portus-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	portusBin, err = testserver.BuildPortus(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is the test process's environment without PORTUS_* settings. A
// race-enabled binary would sleep 1 s at every exit: tell it not to.
func env() []string {
	gorace := "atexit_sleep_ms=0"
	var out []string
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "PORTUS_"):
		case strings.HasPrefix(kv, "GORACE="):
			gorace = strings.TrimPrefix(kv, "GORACE=") + " " + gorace
		default:
			out = append(out, kv)
		}
	}
	return append(out, "GORACE="+gorace)
}

type result struct {
	stdout, stderr string
	code           int
}

// portus runs an admin command to completion (at most 60 s) with stdin.
func portus(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return portusEnv(t, nil, stdin, args...)
}

// portusEnv is portus with extra environment variables.
func portusEnv(t *testing.T, extraEnv []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, portusBin, args...)
	cmd.Env = append(env(), extraEnv...)
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("portus %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("portus %s did not finish within 60 s", strings.Join(args, " "))
	}
	return r
}

// ok runs an admin command that must succeed.
func ok(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := portus(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("portus %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// server is a running `portus serve`.
type server struct {
	cmd    *exec.Cmd
	url    string
	log    *testutil.LockedBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

var servingAddr = regexp.MustCompile(`msg="portus is serving" addr=(\S+)`)

// serve starts `portus serve` on data with --listen localhost:0 and waits
// until it logs its address.
func serve(t *testing.T, data string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(portusBin, append([]string{"serve", "--data", data, "--listen", "localhost:0"}, args...)...)
	cmd.Env = env()
	cmd.Dir = filepath.Dir(data)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, log: &testutil.LockedBuffer{}, exited: make(chan struct{})}
	addr := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.log, line)
			if m := servingAddr.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	go func() {
		<-copied
		s.err = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("portus serve log:\n%s", s.log)
		}
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.exited:
		t.Fatalf("portus serve exited before serving: %v\n%s", s.err, s.log)
	case <-time.After(60 * time.Second):
		t.Fatalf("portus serve not serving after 60 s\n%s", s.log)
	}
	return s
}

// stop sends SIGTERM and returns the exit code; it must come within 10 s.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("portus serve still running 10 s after SIGTERM")
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode()
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return 0
}

// get sends GET path with HTTP Basic and returns the status and body.
func (s *server) get(t *testing.T, path, user, secret string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

var tokenLine = regexp.MustCompile(`^` + apptoken.Pattern + `\n$`)

// createToken runs `portus token create` and checks that stdout is the
// token alone.
func createToken(t *testing.T, data, user, name string, more ...string) string {
	t.Helper()
	r := ok(t, "", append([]string{"token", "create", "--data", data, "--user", user, "--name", name}, more...)...)
	if !tokenLine.MatchString(r.stdout) {
		t.Fatalf("token create printed %q on stdout, want one token line", r.stdout)
	}
	tok := strings.TrimSpace(r.stdout)
	if !apptoken.Valid(tok) {
		t.Fatalf("token create printed an invalid token")
	}
	if !strings.Contains(r.stderr, "Created token") {
		t.Errorf("token create said on stderr: %q", r.stderr)
	}
	return tok
}

func listTokens(t *testing.T, data, user string) []apitypes.Token {
	t.Helper()
	r := ok(t, "", "token", "list", "--data", data, "--user", user, "-o", "json")
	var list []apitypes.Token
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("token list -o json: %v\n%s", err, r.stdout)
	}
	return list
}

func listUsers(t *testing.T, data string) map[string]apitypes.User {
	t.Helper()
	r := ok(t, "", "user", "list", "--data", data, "-o", "json")
	var list []apitypes.User
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("user list -o json: %v\n%s", err, r.stdout)
	}
	m := map[string]apitypes.User{}
	for _, u := range list {
		m[u.Name] = u
	}
	return m
}

func TestServeDataDirAndSecondServe(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := serve(t, data)
	for name, want := range map[string]os.FileMode{"": 0o700, "portus.db": 0o600, "pepper": 0o600, "admin.sock": 0o600} {
		if m := mode(t, filepath.Join(data, name)); m != want {
			t.Errorf("%s has mode %o, want %o", filepath.Join("data", name), m, want)
		}
	}
	if code, body := s.get(t, "/healthz", "", ""); code != 200 {
		t.Errorf("healthz: %d %s", code, body)
	}

	// A second server on the same data directory fails fast and clearly.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, portusBin, "serve", "--data", data, "--listen", "localhost:0")
	second.Env = env()
	second.Dir = t.TempDir()
	out, err := second.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the second portus serve was still running after 5 s:\n%s", out)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Errorf("the second portus serve: %v, want a non-zero exit", err)
	}
	if !strings.Contains(string(out), "in use by another portus process") {
		t.Errorf("the second portus serve said %q", out)
	}

	// The first server is unharmed: HTTP and its admin socket still work.
	if code, _ := s.get(t, "/healthz", "", ""); code != 200 {
		t.Errorf("healthz after the second serve: %d", code)
	}
	if m := mode(t, filepath.Join(data, "admin.sock")); m != 0o600 {
		t.Errorf("admin socket after the second serve: mode %o", m)
	}
	ok(t, "", "user", "list", "--data", data)
	if code := s.stop(t); code != 0 {
		t.Errorf("portus serve exited %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(filepath.Join(data, "admin.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket left after shutdown: %v", err)
	}
}

// TestAdminCLIWhileServing drives every admin command against a running
// server, checks the effect over HTTP at once, then stops the server with
// SIGTERM and finds the last-used times it had batched in the database.
func TestAdminCLIWhileServing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := serve(t, data)
	const alicePW, bobPW = "alice-password-1", "bob-password-22"

	r := ok(t, alicePW+"\n", "user", "create", "alice", "--admin", "--password-stdin", "--data", data)
	if r.stdout != "" || !strings.Contains(r.stderr, `Created administrator "alice"`) {
		t.Errorf("user create: stdout %q stderr %q", r.stdout, r.stderr)
	}
	ok(t, bobPW, "user", "create", "--data", data, "--password-stdin", "bob")
	users := listUsers(t, data)
	if !users["alice"].Admin || users["bob"].Admin || len(users) != 2 {
		t.Errorf("user list: %+v", users)
	}
	r = ok(t, "", "user", "list", "--data", data)
	if !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "bob") {
		t.Errorf("user list table: %q", r.stdout)
	}
	if code, _ := s.get(t, "/api/v1/users", "alice", alicePW); code != 200 {
		t.Errorf("alice's password over HTTP: %d", code)
	}

	tok := createToken(t, data, "alice", "ci", "--scope", "pull")
	if code, body := s.get(t, "/api/v1/tokens", "alice", tok); code != 200 {
		t.Fatalf("the CLI's token over HTTP: %d %s", code, body)
	}
	list := listTokens(t, data, "alice")
	if len(list) != 1 || list[0].Name != "ci" || list[0].Scope != "pull" || list[0].CreatedVia != "cli" {
		t.Fatalf("token list: %+v", list)
	}
	r = ok(t, "", "token", "list", "--user", "alice", "--data", data)
	if !strings.Contains(r.stdout, list[0].ID) || !strings.Contains(r.stdout, "ci") || strings.Contains(r.stdout, tok) {
		t.Errorf("token list table: %q", r.stdout)
	}
	r = ok(t, "", "token", "revoke", "--user", "alice", "--data", data, list[0].ID)
	if r.stdout != "" {
		t.Errorf("token revoke printed %q on stdout", r.stdout)
	}
	if code, body := s.get(t, "/api/v1/tokens", "alice", tok); code != 401 {
		t.Errorf("revoked token over HTTP: %d %s, want 401", code, body)
	}
	if r := portus(t, "", "token", "revoke", "--user", "alice", "--data", data, list[0].ID); r.code == 0 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("revoking twice: %+v", r)
	}

	bobTok := createToken(t, data, "bob", "laptop")
	ok(t, "", "user", "disable", "bob", "--data", data)
	if code, _ := s.get(t, "/api/v1/tokens", "bob", bobTok); code != 401 {
		t.Errorf("disabled bob's token: %d, want 401", code)
	}
	if !listUsers(t, data)["bob"].Disabled {
		t.Error("user list does not show bob disabled")
	}
	ok(t, "", "user", "enable", "bob", "--data", data)
	if code, _ := s.get(t, "/api/v1/tokens", "bob", bobTok); code != 200 {
		t.Errorf("re-enabled bob's token: %d, want 200", code)
	}

	// Errors come back with the server's message and a non-zero exit.
	if r := portus(t, "x-password-1\n", "user", "create", "alice", "--password-stdin", "--data", data); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("creating alice twice: %+v", r)
	}
	if r := portus(t, "", "token", "create", "--user", "nobody", "--name", "x", "--data", data); r.code == 0 || r.stdout != "" {
		t.Errorf("token for an unknown user: %+v", r)
	}

	// The commands went over the admin socket (the database is locked by
	// the server), which logs them like any request.
	if !strings.Contains(s.log.String(), "path=/api/v1/users/alice/tokens") {
		t.Error("the server did not log the admin commands' requests")
	}

	// Last use is batched in memory; SIGTERM writes it.
	deploy := createToken(t, data, "alice", "deploy")
	for i := 0; i < 3; i++ {
		if code, _ := s.get(t, "/api/v1/tokens", "alice", deploy); code != 200 {
			t.Fatalf("deploy token: %d", code)
		}
	}
	log := s.log.String()
	if code := s.stop(t); code != 0 {
		t.Errorf("portus serve exited %d after SIGTERM, want 0", code)
	}
	for _, secret := range []string{alicePW, bobPW, tok, bobTok, deploy} {
		if strings.Contains(log, secret) {
			t.Errorf("the server log contains a secret (%.8s…)", secret)
		}
	}
	list = listTokens(t, data, "alice") // offline now
	if len(list) != 1 || list[0].Name != "deploy" || list[0].LastUsedAt == nil {
		t.Errorf("after SIGTERM the token list is %+v, want deploy with last_used_at", list)
	}
}

// TestAdminCLIOffline: with no server running, the commands open the
// database themselves; a server started afterwards sees their work.
func TestAdminCLIOffline(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	ok(t, "root-password-1\n", "user", "create", "root", "--admin", "--password-stdin", "--data", data)
	ok(t, "bob-password-22\n", "user", "create", "bob", "--password-stdin", "--data", data)
	for name, want := range map[string]os.FileMode{"": 0o700, "portus.db": 0o600, "pepper": 0o600} {
		if m := mode(t, filepath.Join(data, name)); m != want {
			t.Errorf("offline: %s has mode %o, want %o", filepath.Join("data", name), m, want)
		}
	}
	rootTok := createToken(t, data, "root", "ci", "--scope", "delete", "--expires", "720h")
	bobTok := createToken(t, data, "bob", "laptop")
	gone := createToken(t, data, "bob", "old")
	list := listTokens(t, data, "bob")
	if len(list) != 2 {
		t.Fatalf("bob's tokens: %+v", list)
	}
	for _, l := range list {
		if l.Name == "old" {
			ok(t, "", "token", "revoke", "--data", data, "--user", "bob", l.ID)
		}
	}
	ok(t, "", "user", "disable", "bob", "--data", data)

	s := serve(t, data)
	code, body := s.get(t, "/api/v1/tokens", "root", rootTok)
	if code != 200 {
		t.Fatalf("root's offline token: %d %s", code, body)
	}
	var rootList []apitypes.Token
	json.Unmarshal(body, &rootList)
	if len(rootList) != 1 || rootList[0].Scope != "delete" || rootList[0].ExpiresAt == nil ||
		rootList[0].ExpiresAt.Before(time.Now().Add(719*time.Hour)) || rootList[0].ExpiresAt.After(time.Now().Add(721*time.Hour)) {
		t.Errorf("root's tokens: %+v", rootList)
	}
	if code, _ := s.get(t, "/api/v1/tokens", "bob", bobTok); code != 401 {
		t.Errorf("offline-disabled bob: %d, want 401", code)
	}
	ok(t, "", "user", "enable", "bob", "--data", data) // over the socket now
	if code, _ := s.get(t, "/api/v1/tokens", "bob", bobTok); code != 200 {
		t.Errorf("bob after enable: %d, want 200", code)
	}
	if code, _ := s.get(t, "/api/v1/tokens", "bob", gone); code != 401 {
		t.Errorf("offline-revoked token: %d, want 401", code)
	}
	if u := listUsers(t, data); len(u) != 2 || !u["root"].Admin {
		t.Errorf("users seen through the server: %+v", u)
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

func TestPasswordsNeverArguments(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, c := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no --password-stdin", "carol-password\n", []string{"user", "create", "carol"}, "--password-stdin"},
		{"password as an argument", "", []string{"user", "create", "carol", "carol-password"}, "Usage"},
		{"--password flag", "", []string{"user", "create", "carol", "--password", "carol-password"}, "flag provided but not defined"},
		{"empty stdin", "", []string{"user", "create", "carol", "--password-stdin"}, "no password on stdin"},
		{"short password", "short\n", []string{"user", "create", "carol", "--password-stdin"}, "password:"},
	} {
		r := portus(t, c.stdin, append(c.args, "--data", data)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want a failure mentioning %q", c.name, r.code, r.stderr, c.want)
		}
	}
	// None of them created carol.
	if _, ok := listUsers(t, data)["carol"]; ok {
		t.Error("carol was created")
	}
}

func TestUsageAndVersion(t *testing.T) {
	r := ok(t, "", "version")
	if !strings.HasPrefix(r.stdout, "portus ") || !strings.Contains(r.stdout, "\ncommit ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("version: %q", r.stdout)
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"token", "create", "--name", "x"}, {"token", "revoke", "--user", "alice"}, {"user"}} {
		if r := portus(t, "", args...); r.code != 2 || r.stdout != "" {
			t.Errorf("portus %v: exit %d stdout %q, want 2 and nothing on stdout", args, r.code, r.stdout)
		}
	}
}

// A mistyped --data must not silently create an empty installation.
func TestWrongDataDirIsAnError(t *testing.T) {
	typo := filepath.Join(t.TempDir(), "portus-dta")
	for _, args := range [][]string{
		{"token", "list", "--user", "alice"},
		{"user", "list"},
		{"backup", filepath.Join(t.TempDir(), "b.db")},
	} {
		r := portus(t, "", append(args, "--data", typo)...)
		if r.code == 0 || !strings.Contains(r.stderr, "no Portus database in "+typo) {
			t.Errorf("portus %v with a wrong --data: exit %d, %s", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(typo); err == nil {
		t.Error("the mistyped data directory was created")
	}
}
