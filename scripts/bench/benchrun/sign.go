package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/portusproject/portus/server/registryauth"
	"github.com/portusproject/portus/server/store/boltstore"
	"github.com/portusproject/portus/shared/apitypes"
)

// typicalAccess is the claim set of a docker push of alice/app.
var typicalAccess = []registryauth.Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull", "push"}}}

func newIssuer(dir string) (*registryauth.Issuer, error) {
	signer, err := registryauth.LoadOrCreateSigner(boltstore.SecretFiles{Dir: dir}, registryauth.AlgES256, "", time.Now)
	if err != nil {
		return nil, err
	}
	return registryauth.NewIssuer(signer, "localhost", registryauth.DefaultTTL)
}

type signResult struct {
	Ops        int     `json:"ops"`
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"ops_per_s"`
	NsPerOp    float64 `json:"ns_per_op"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	TokenBytes int     `json:"token_bytes"`

	best string // the run's note when it is the best of several
}

// cmdSign is the floor: a sequential loop of Issuer.Issue (ES256) for the
// claim set of a push, for a fixed time, in one goroutine.
func cmdSign(args []string) error {
	fs := flag.NewFlagSet("sign", flag.ExitOnError)
	d := fs.Duration("d", 3*time.Second, "how long to sign")
	fs.Parse(args)
	dir, err := os.MkdirTemp("", "portus-bench-sign-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	iss, err := newIssuer(dir)
	if err != nil {
		return err
	}
	var tok string
	warm := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(warm) {
		if tok, err = iss.Issue("alice", "registry", typicalAccess, time.Now()); err != nil {
			return err
		}
	}
	n := 0
	start := time.Now()
	end := start.Add(*d)
	for {
		for range 64 {
			if _, err := iss.Issue("alice", "registry", typicalAccess, time.Now()); err != nil {
				return err
			}
		}
		n += 64
		if !time.Now().Before(end) {
			break
		}
	}
	el := time.Since(start)
	return json.NewEncoder(os.Stdout).Encode(signResult{
		Ops: n, Seconds: el.Seconds(), OpsPerSec: float64(n) / el.Seconds(),
		NsPerOp: float64(el.Nanoseconds()) / float64(n), GOMAXPROCS: runtime.GOMAXPROCS(0), TokenBytes: len(tok),
	})
}

// cmdBare is the calibration server: a plain net/http handler that parses
// HTTP Basic, signs the same claim set and writes the token response. No
// lookup, no router, no logging: what no real endpoint can beat by much.
func cmdBare(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ExitOnError)
	listen := fs.String("listen", "localhost:0", "address")
	fs.Parse(args)
	dir, err := os.MkdirTemp("", "portus-bench-bare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	iss, err := newIssuer(dir)
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, ok := r.BasicAuth()
		if !ok {
			http.Error(w, "no credentials", http.StatusUnauthorized)
			return
		}
		now := time.Now()
		tok, err := iss.Issue(user, r.URL.Query().Get("service"), typicalAccess, now)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(apitypes.RegistryToken{Token: tok, AccessToken: tok, ExpiresIn: 300, IssuedAt: now.UTC().Format(time.RFC3339)})
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Fprintln(os.Stderr, "bare: listening on", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
