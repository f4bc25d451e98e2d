package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portusproject/portus/internal/testutil"
	"github.com/portusproject/portus/shared/apitypes"
)

// imageUser is the numeric user server/Containerfile runs portus as.
const imageUser = 65532

// TestContainerImage is an operator's first hour with the image: build it
// (scripts/release-image, the real daemon, the classic builder), run it
// with a volume on the host's network, see it healthy, create a user with
// `docker exec`, get a registry token, then stop and start the container,
// and replace it by a new one on the same volume: the user still works.
func TestContainerImage(t *testing.T) {
	d := startDockerd(t)
	env, _ := dockerClientEnv(t, `{}`)
	id := strings.ToLower(fmt.Sprintf("%d%d", os.Getpid(), time.Now().UnixNano()%1e6))
	tag, volume := "portus-e2e:"+id, "portus-e2e-data-"+id

	// Cleanups on the outer t: the phases' own end before the test does.
	t.Cleanup(func() { d.Docker(env, "", "image", "rm", "--force", tag) })
	phase(t, "build", func(t *testing.T) {
		cmd := exec.Command("../release-image", tag)
		cmd.Env = append(withoutDockerVars(os.Environ()), "DOCKER_HOST="+d.Host)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		// Its stdout is the tag; docker's notes (the classic builder's
		// deprecation) go to stderr.
		if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != tag {
			t.Fatalf("scripts/release-image %s: %v\n%s%s", tag, err, out, stderr.String())
		}
		size := d.MustDocker(t, env, "", "image", "inspect", "--format", "{{.Size}}", tag)
		t.Logf("scripts/release-image took %s; the image is %s bytes", time.Since(start).Round(time.Millisecond), strings.TrimSpace(size))
		conf := d.MustDocker(t, env, "", "image", "inspect", "--format",
			"{{.Config.User}} {{json .Config.Volumes}} {{json .Config.ExposedPorts}} {{json .Config.Healthcheck.Test}}", tag)
		want := fmt.Sprintf(`%d:%d {"/data":{}} {"3000/tcp":{}} ["CMD","/usr/local/bin/portus","healthcheck"]`, imageUser, imageUser)
		if strings.TrimSpace(conf) != want {
			t.Fatalf("image configuration %s, want %s", strings.TrimSpace(conf), want)
		}
	})
	d.MustDocker(t, env, "", "volume", "create", volume)
	t.Cleanup(func() { d.Docker(env, "", "volume", "rm", "--force", volume) })

	// Not the image's 0.0.0.0:3000: on the host's network that port may be
	// anyone's.
	port := testutil.Port(t)
	url := fmt.Sprintf("http://localhost:%d", port)
	outer := t
	run := func(t *testing.T, name string) {
		t.Helper()
		outer.Cleanup(func() { d.Docker(env, "", "rm", "--force", name) })
		d.MustDocker(t, env, "", "run", "--detach", "--name", name, "--network", "host",
			"--volume", volume+":/data", "--health-interval", "1s",
			"--env", fmt.Sprintf("PORTUS_LISTEN=127.0.0.1:%d", port), "--env", "PORTUS_URL="+url, tag)
		waitHealthy(t, d, env, name, url)
	}
	first, second := "portus-e2e-"+id+"-a", "portus-e2e-"+id+"-b"

	phase(t, "run", func(t *testing.T) {
		run(t, first)
		data := d.MustDocker(t, env, "", "volume", "inspect", "--format", "{{.Mountpoint}}", volume)
		checkOwnedBy(t, strings.TrimSpace(data), imageUser)
	})
	phase(t, "user create through docker exec", func(t *testing.T) {
		out := d.MustDocker(t, env, "alice-password\n", "exec", "--interactive", first,
			"portus", "user", "create", "alice", "--password-stdin")
		if strings.Contains(out, "alice-password") {
			t.Fatal("user create printed the password")
		}
		wantJWT(t, url, "alice-password")
	})
	phase(t, "stop and start", func(t *testing.T) {
		d.MustDocker(t, env, "", "stop", "--time", "20", first)
		if code := d.MustDocker(t, env, "", "inspect", "--format", "{{.State.ExitCode}}", first); strings.TrimSpace(code) != "0" {
			logs, _ := d.Docker(env, "", "logs", first)
			t.Fatalf("portus exited %s on docker stop, want 0\n%s", strings.TrimSpace(code), testutil.RedactTokens(logs))
		}
		d.MustDocker(t, env, "", "start", first)
		waitHealthy(t, d, env, first, url)
		wantJWT(t, url, "alice-password")
	})
	phase(t, "a new container on the volume", func(t *testing.T) {
		d.MustDocker(t, env, "", "rm", "--force", first)
		run(t, second)
		wantJWT(t, url, "alice-password")
	})
}

// waitHealthy waits until the container's HEALTHCHECK (portus healthcheck)
// says healthy and /healthz answers from the host.
func waitHealthy(t *testing.T, d *dockerd, env []string, name, url string) {
	t.Helper()
	var status string
	err := testutil.WaitReady(nil, 60*time.Second, func() bool {
		out, _ := d.Docker(env, "", "inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", name)
		status = strings.TrimSpace(out)
		return status == "running healthy" && testutil.Answers(url+"/healthz", http.StatusOK)
	})
	if err != nil {
		logs, _ := d.Docker(env, "", "logs", name)
		health, _ := d.Docker(env, "", "inspect", "--format", "{{json .State.Health}}", name)
		t.Fatalf("container %s is %q, not running and healthy: %v\nhealth: %s\nlogs:\n%s",
			name, status, err, health, testutil.RedactTokens(logs))
	}
}

// wantJWT asks the server at url for a registry token as alice and checks
// that it is a signed JWT.
func wantJWT(t *testing.T, url, password string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+apitypes.RegistryTokenPath+"?service=registry&scope=repository:alice/app:pull", nil)
	req.SetBasicAuth("alice", password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body apitypes.RegistryToken
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/v2/token as alice = %d, want 200", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || strings.Count(body.Token, ".") != 2 {
		t.Fatalf("/v2/token as alice: not a JWT (%v)", err)
	}
}

// checkOwnedBy fails unless dir and everything in it belong to uid.
func checkOwnedBy(t *testing.T, dir string, uid int) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
			return fmt.Errorf("%s is owned by uid %d, want %d", path, st.Uid, uid)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("the volume at %s holds nothing after the start", dir)
	}
}
