package e2e

// Helpers shared by the server fault tests (crash, disk full, brute force):
// raw HTTP calls that report instead of failing the test, so that load
// goroutines can use them, and the admin socket as an HTTP client.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// srvReply is a whole HTTP answer.
type srvReply struct {
	status int
	header http.Header
	body   []byte
}

func (r srvReply) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// message is the "message" of a JSON error body.
func (r srvReply) message() string {
	var e struct{ Message string }
	_ = json.Unmarshal(r.body, &e)
	return e.Message
}

// srvReq describes one request of the fault tests.
type srvReq struct {
	method, url string
	user, pass  string // HTTP Basic when user is not empty
	from        string // X-Forwarded-For when not empty
	body        any    // JSON-encoded when not nil
}

// do sends the request with client and reads the whole answer. A transport
// error (the server was killed, say) is returned, never fatal.
func (q srvReq) do(client *http.Client) (srvReply, error) {
	var rd io.Reader
	if q.body != nil {
		data, err := json.Marshal(q.body)
		if err != nil {
			return srvReply{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(q.method, q.url, rd)
	if err != nil {
		return srvReply{}, err
	}
	if q.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if q.user != "" {
		req.SetBasicAuth(q.user, q.pass)
	}
	if q.from != "" {
		req.Header.Set("X-Forwarded-For", q.from)
	}
	resp, err := client.Do(req)
	if err != nil {
		return srvReply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return srvReply{}, err
	}
	return srvReply{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// newSrvClient is an HTTP client of its own (its connections die with
// the server it talks to) with a generous timeout.
func newSrvClient() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

// adminSocketClient talks HTTP over the data directory's admin socket,
// where the caller is an administrator; use the URL http://portus/....
func adminSocketClient(data string) *http.Client {
	sock := filepath.Join(data, "admin.sock")
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

const adminSocketURL = "http://portus"

// registryTokenURL is the /v2/token request a docker login makes.
func registryTokenURL(base string) string {
	return base + "/v2/token?" + url.Values{"service": {"registry"}, "scope": {"repository:busybox:pull"}}.Encode()
}

// fakeAddr returns the n-th address of 10.0.0.0/8, for X-Forwarded-For.
func fakeAddr(n int) string {
	return fmt.Sprintf("10.%d.%d.%d", (n>>16)&255, (n>>8)&255, n&255)
}

// checkBolt opens a bbolt file read-only and runs bbolt's consistency
// check over every page; it returns what the check found.
func checkBolt(t *testing.T, path string) []string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return []string{"opening: " + err.Error()}
	}
	defer db.Close()
	var problems []string
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			problems = append(problems, err.Error())
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// offlinePortus runs an admin command on a data directory no server is using.
func offlinePortus(t *testing.T, data, stdin string, args ...string) string {
	t.Helper()
	return (&portusServer{Data: data}).portus(t, stdin, args...)
}

// joinProblems shortens a list of findings for a failure message.
func joinProblems(p []string) string {
	if len(p) > 10 {
		p = append(p[:10:10], fmt.Sprintf("… and %d more", len(p)-10))
	}
	return strings.Join(p, "\n")
}
