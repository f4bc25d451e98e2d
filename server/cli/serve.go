package cli

import (
	"context"
	"log/slog"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/portusproject/portus/server/app"
	"github.com/portusproject/portus/server/config"
)

func runServe(env Env, args []string) error {
	fs := newFlags(env, "serve", "[flags]")
	c, rest, err := config.Load(fs, config.ServeFlags, args, env.Getenv)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fs.Usage()
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(c.LogLevel))); err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	// The live heap is a few MiB, so Go's default GOGC=100 collects about
	// 120 times a second under load; 400 cut the CPU per /v2/token request
	// by a sixth for about 10 MiB more RSS (docs/performance.md). An
	// operator's GOGC still wins.
	if env.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return app.Serve(ctx, c, log, nil)
}
