// Package metrics owns the Prometheus metrics of a Portus server: requests
// by route and status, the token endpoint's latency, failed authentications
// by reason, active tokens, tokens expiring soon and throttled clients. Counters are atomic, so
// recording stays off every lock on the hot path; gauges that need a count
// are computed when /metrics is scraped.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one server's set of metrics, in its own registry.
type Metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	tokenLatency prometheus.Histogram
	authFailures *prometheus.CounterVec
}

// New returns the metrics with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portus_http_requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		tokenLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "portus_registry_token_duration_seconds",
			Help:    "Time to answer the registry token endpoint (/v2/token).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portus_auth_failures_total",
			Help: "Failed authentications by kind of credential (password or token); never by user or reason, which would tell whether a username exists.",
		}, []string{"kind"}),
	}
	m.registry.MustRegister(m.requests, m.tokenLatency, m.authFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Middleware counts every request by its route template (not its path, so
// that the number of series stays bounded) and times the token endpoint.
func (m *Metrics) Middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	if route == "/v2/token" {
		m.tokenLatency.Observe(time.Since(start).Seconds())
	}
	m.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Inc()
}

// AuthFailed counts a failed authentication of a kind of credential.
func (m *Metrics) AuthFailed(kind string) { m.authFailures.WithLabelValues(kind).Inc() }

// Gauges registers the gauges computed at scrape time: tokens in the store
// and clients the throttle is holding back.
func (m *Metrics) Gauges(activeTokens func() (int, error), throttled func() (users, ips int)) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portus_active_tokens",
			Help: "Application tokens in the store (not revoked; expired ones included until removed).",
		}, func() float64 {
			n, err := activeTokens()
			if err != nil {
				return -1
			}
			return float64(n)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portus_throttled_usernames",
			Help: "Usernames that must wait before their next password is checked.",
		}, func() float64 { u, _ := throttled(); return float64(u) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portus_throttled_client_ips",
			Help: "Client addresses that must wait before their next attempt.",
		}, func() float64 { _, i := throttled(); return float64(i) }),
	)
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// ExpiryGauge registers portus_tokens_expiring_soon, the application
// tokens that expire within 7 days, as the account service's last expiry
// sweep counted them (a full scan of the tokens is the sweep's, not a
// scrape's).
func (m *Metrics) ExpiryGauge(expiringSoon func() (int, error)) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "portus_tokens_expiring_soon",
		Help: "Application tokens that still work but expire within 7 days (by date or idleness), as of the last expiry sweep.",
	}, func() float64 {
		n, err := expiringSoon()
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}
