package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/metrics"
	"github.com/portusproject/portus/server/model"
	"github.com/portusproject/portus/server/webhook"
)

// openWebhooks makes the dispatcher of the configured webhooks and points
// opts.Events at it (unless a caller set its own), so that every event
// the account service publishes is queued in the store. Nil without hooks.
// Commands other than serve queue too: serve delivers later.
func openWebhooks(c config.Config, st model.Store, m *metrics.Metrics, opts *account.Options) (*webhook.Dispatcher, error) {
	if len(c.Webhooks) == 0 || opts.Events != nil {
		return nil, nil
	}
	hooks := make([]webhook.Hook, 0, len(c.Webhooks))
	for _, w := range c.Webhooks {
		secret, err := w.ReadSecret()
		if err != nil {
			return nil, err
		}
		hooks = append(hooks, webhook.Hook{URL: w.URL, Secret: secret, Events: w.Events})
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	d := webhook.New(webhook.Options{Hooks: hooks, Queue: st, Owner: webhookOwner(c), Log: log.With("component", "webhooks")})
	d.SetMetrics(m.Webhooks(d.Depth))
	opts.Events = d.Publish
	return d, nil
}

// webhookOwner names this replica in the queue's claims: the same after a
// restart (the claims it held are taken back at once), different for each
// replica, which has its own data directory.
func webhookOwner(c config.Config) string {
	host, _ := os.Hostname()
	dir, err := filepath.Abs(c.Data)
	if err != nil {
		dir = c.Data
	}
	sum := sha256.Sum256([]byte(host + "\x00" + dir))
	return hex.EncodeToString(sum[:8])
}

// startWebhooks delivers queued webhooks until the returned function is
// called; that function returns once the round in progress has ended.
func startWebhooks(core *Core) (stop func()) {
	if core.Webhooks == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		core.Webhooks.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
