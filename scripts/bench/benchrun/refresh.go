package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// The refresh grant: what dockerd, containerd and buildkit send on every
// pull and push after a `docker login` with a password left a login token
// as the identity token. POST grant_type=refresh_token with the token
// alone (no username); it should cost what the GET application-token
// path costs (one HMAC, one lookup), so its row sits beside that one.

// loginToken logs in as docker does (GET offline_token=true with the
// password) and returns the refresh token of the answer.
func loginToken(base string) (string, error) {
	q := url.Values{"service": {service}, "client_id": {"docker"}, "offline_token": {"true"}, "account": {"alice"}}
	req, err := http.NewRequest(http.MethodGet, base+"/v2/token?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth("alice", alicePassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("docker-style login: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.RefreshToken == "" {
		return "", fmt.Errorf("docker-style login: status %d, no refresh_token (%v)", resp.StatusCode, err)
	}
	return tok.RefreshToken, nil
}

// runRefresh adds the refresh-grant row at 8 clients, compared with the
// GET application-token row at 8 clients (b.tok8) of the same run.
func (b *bench) runRefresh(srv *server) error {
	login, err := loginToken(srv.URL)
	if err != nil {
		return err
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {login}, "client_id": {"docker"},
		"service": {service}, "scope": {"repository:alice/app:pull,push"}}.Encode()
	r, err := b.loadBest(srv.pid(), b.t.warmup, append([]string{"-url", srv.URL + "/v2/token", "-method", http.MethodPost, "-form", "-body", form,
		"-c", "8"}, b.dur()...)...)
	if err != nil {
		return err
	}
	b.refresh8 = r
	notes := ""
	if b.tok8 != nil && b.tok8.RPS > 0 {
		notes = fmt.Sprintf("%.0f %% of the GET application-token row at 8 clients", 100*r.RPS/b.tok8.RPS)
	}
	b.add(loadRow("2", "`POST /v2/token` refresh grant (identity token alone, no username), log level warn", r, notes))
	return nil
}

// runTokenRows is -only-refresh: a server of its own with just the GET
// application-token row and the refresh-grant row, both at 8 clients.
func (b *bench) runTokenRows() error {
	data := filepath.Join(b.tmp, "refresh")
	srv, err := startServer(b.exe("portus"), data, filepath.Join(b.tmp, "refresh.log"), nil, "--log-level", "warn")
	if err != nil {
		return err
	}
	defer srv.stop()
	cliEnv := []string{"PORTUS_DATA=" + data}
	if _, err := run(cliEnv, alicePassword+"\n", b.exe("portus"), "user", "create", "alice", "--password-stdin"); err != nil {
		return err
	}
	out, err := run(cliEnv, "", b.exe("portus"), "token", "create", "--user", "alice", "--name", "bench", "--scope", "push")
	if err != nil {
		return err
	}
	r, err := b.loadBest(srv.pid(), b.t.warmup, append([]string{"-url", srv.URL + tokenPath("alice"), "-auth", "alice:" + strings.TrimSpace(out),
		"-c", strconv.Itoa(8)}, b.dur()...)...)
	if err != nil {
		return err
	}
	b.tok8 = r
	b.add(loadRow("2", "`GET /v2/token`, application token (Basic alice:ptk_…), log level warn", r, ""))
	return b.runRefresh(srv)
}

// refreshTarget is the refresh grant's goal: within 10 % of the GET
// application-token path at 8 clients.
func (b *bench) refreshTarget() ([3]string, bool) {
	if b.refresh8 == nil || b.tok8 == nil || b.tok8.RPS == 0 {
		return [3]string{}, false
	}
	ratio := b.refresh8.RPS / b.tok8.RPS
	verdict := "**MISS**"
	if ratio >= 0.9 {
		verdict = "**PASS**"
	}
	return [3]string{"refresh grant at 8 clients ÷ GET application token at 8 clients ≥ 90 %",
		fmt.Sprintf("%.1f %%", 100*ratio), fmt.Sprintf("%s (%+.1f points)", verdict, 100*(ratio-0.9))}, true
}
