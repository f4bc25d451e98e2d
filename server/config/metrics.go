package config

import (
	"flag"
	"fmt"
	"net"
	"strconv"
)

// MetricsConfig is the `metrics:` section: who may read /metrics. With
// neither key set it is public on the main listener, as before. Each key is
// also a flag --metrics-KEY and a variable PORTUS_METRICS_KEY.
type MetricsConfig struct {
	// TokenFile holds a bearer token; /metrics then answers 401 to any
	// request without "Authorization: Bearer <token>". The token is never
	// a setting, only a file.
	TokenFile string `yaml:"token_file"`
	// Listen is a separate HOST:PORT (such as 127.0.0.1:9100) that serves
	// only /metrics; the main listener then no longer serves it.
	Listen string `yaml:"listen"`
}

// metricsFlags registers the metrics settings.
func metricsFlags(fs *flag.FlagSet, c *Config) {
	m := &c.Metrics
	fs.StringVar(&m.TokenFile, "metrics-token-file", m.TokenFile, "`FILE` holding the bearer token (at least 16 characters) that /metrics requires (empty: no token)")
	fs.StringVar(&m.Listen, "metrics-listen", m.Listen, "serve /metrics only on this separate address (`HOST:PORT`, e.g. 127.0.0.1:9100), not on --listen")
}

// validateMetrics checks the metrics section. The token file is read when
// the server starts, not here.
func (c *Config) validateMetrics() error {
	m := c.Metrics
	if m.Listen == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(m.Listen)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--metrics-listen %q: must be HOST:PORT, such as 127.0.0.1:9100", m.Listen)
	}
	if m.Listen == c.Listen && port != "0" { // port 0: each gets a free one
		return fmt.Errorf("--metrics-listen %q: must differ from --listen (leave it empty to serve /metrics there)", m.Listen)
	}
	return nil
}
