package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/shared/apptoken"
)

// populateResult is what `benchrun populate` prints.
type populateResult struct {
	Users        int     `json:"users"`
	Tokens       int     `json:"tokens"`
	Seconds      float64 `json:"seconds"`
	TxPerSecond  float64 `json:"tx_per_second"`
	Complete     bool    `json:"complete"`
	FileBytes    int64   `json:"file_bytes"`
	LookupP50ns  float64 `json:"lookup_p50_ns"`
	LookupP99ns  float64 `json:"lookup_p99_ns"`
	AuthP50ns    float64 `json:"auth_p50_ns"`
	AuthP99ns    float64 `json:"auth_p99_ns"`
	LookupSample int     `json:"lookup_sample"`
}

// cmdPopulate fills a data directory offline, through the project's own
// packages (app.OpenCore, the store's CreateUser and CreateToken, the
// account service's TokenHash): users × tokens, one transaction per user
// and per token, as the server would write them. It writes a sample of
// "user token" lines for the load generator, then measures in-process
// lookups (Store.TokenByHash and Accounts.AuthenticateToken) of random
// tokens of the whole store.
func cmdPopulate(args []string) error {
	fs := flag.NewFlagSet("populate", flag.ExitOnError)
	var (
		data    = fs.String("data", "", "data directory (created)")
		users   = fs.Int("users", 100, "users to create")
		per     = fs.Int("tokens", 5, "tokens per user")
		sample  = fs.Int("sample", 1000, "\"user token\" lines to write to -creds")
		creds   = fs.String("creds", "", "file for the sampled credentials")
		budget  = fs.Duration("budget", 0, "stop creating users after this long (0: no limit)")
		lookups = fs.Int("lookups", 20000, "in-process lookups to time after populating")
	)
	fs.Parse(args)
	if *data == "" || *creds == "" {
		return fmt.Errorf("populate: -data and -creds are required")
	}
	c := config.Defaults()
	c.Data = *data
	c.MaxTokens = max(*per, 5)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	core, err := app.OpenCore(c, account.Options{Logger: quiet})
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			core.Close()
		}
	}()
	// One password hash for everyone: argon2id per user would take the
	// whole budget, and the hash plays no part in token lookups.
	pwHash, err := account.HashPassword("bench-password", account.DefaultPasswordParams)
	if err != nil {
		return err
	}

	type sampled struct{ user, token string }
	var (
		picks  []sampled // reservoir sample of plaintexts
		hashes [][]byte  // every token's hash, for the lookup timing
		seen   int
		res    = populateResult{}
	)
	now := time.Now().UTC()
	start := time.Now()
	res.Complete = true
	for i := 0; i < *users; i++ {
		if *budget > 0 && time.Since(start) > *budget {
			res.Complete = false
			break
		}
		name := fmt.Sprintf("user%06d", i)
		if _, err := core.Store.CreateUser(model.User{Name: name, PasswordHash: pwHash, CreatedAt: now}, false); err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		res.Users++
		for j := 0; j < *per; j++ {
			plain, err := apptoken.New()
			if err != nil {
				return err
			}
			id := make([]byte, 8)
			rand.Read(id)
			hash := core.Accounts.TokenHash(plain)
			t := model.Token{
				ID: hex.EncodeToString(id), Owner: name, Name: fmt.Sprintf("token-%d", j), Hash: hash,
				Scope: "push", CreatedAt: now, CreatedVia: "cli",
			}
			if _, err := core.Store.CreateToken(model.NewToken{Token: t, Limit: c.MaxTokens}); err != nil {
				return fmt.Errorf("creating a token of %s: %w", name, err)
			}
			res.Tokens++
			hashes = append(hashes, hash)
			seen++
			if len(picks) < *sample {
				picks = append(picks, sampled{name, plain})
			} else if k := randN(seen); k < *sample {
				picks[k] = sampled{name, plain}
			}
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.TxPerSecond = float64(res.Users+res.Tokens) / res.Seconds

	var b strings.Builder
	for _, p := range picks {
		fmt.Fprintf(&b, "%s %s\n", p.user, p.token)
	}
	if err := os.WriteFile(*creds, []byte(b.String()), 0o600); err != nil {
		return err
	}

	// In-process lookups of random tokens across the whole store.
	if len(hashes) > 0 && *lookups > 0 {
		res.LookupSample = *lookups
		lat := make([]int64, 0, *lookups)
		for range *lookups {
			h := hashes[randN(len(hashes))]
			t0 := time.Now()
			if _, _, err := core.Store.TokenByHash(h); err != nil {
				return fmt.Errorf("looking up a token: %w", err)
			}
			lat = append(lat, int64(time.Since(t0)))
		}
		res.LookupP50ns, res.LookupP99ns = pcts(lat)
		// The whole check of the hot path, HMAC included, on sampled tokens.
		lat = lat[:0]
		for k := range *lookups {
			p := picks[k%len(picks)]
			t0 := time.Now()
			if _, err := core.Accounts.AuthenticateToken(p.user, p.token, "127.0.0.1"); err != nil {
				return fmt.Errorf("authenticating a sampled token: %w", err)
			}
			lat = append(lat, int64(time.Since(t0)))
		}
		res.AuthP50ns, res.AuthP99ns = pcts(lat)
	}
	closed = true
	if err := core.Close(); err != nil {
		return err
	}
	if fi, err := os.Stat(c.DBPath()); err == nil {
		res.FileBytes = fi.Size()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func pcts(lat []int64) (p50, p99 float64) {
	slices.Sort(lat)
	at := func(p float64) float64 {
		i := int(float64(len(lat))*p+0.999999) - 1
		return float64(lat[max(0, min(i, len(lat)-1))])
	}
	return at(0.50), at(0.99)
}

func randN(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}
