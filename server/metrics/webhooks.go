package metrics

import "github.com/prometheus/client_golang/prometheus"

// Webhooks counts deliveries per webhook, labelled with the hook's name
// (its URL without query or credentials).
type Webhooks struct {
	delivered, failed, dropped *prometheus.CounterVec
}

// Webhooks registers the webhook metrics; depth, called at scrape time,
// returns the queued deliveries per hook name.
func (m *Metrics) Webhooks(depth func() map[string]int) *Webhooks {
	w := &Webhooks{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portus_webhook_delivered_total",
			Help: "Webhook deliveries that the receiver accepted (2xx).",
		}, []string{"hook"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portus_webhook_failed_total",
			Help: "Webhook delivery attempts that failed (retried with backoff).",
		}, []string{"hook"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portus_webhook_dropped_total",
			Help: "Webhook deliveries given up after 24 hours of failures.",
		}, []string{"hook"}),
	}
	m.registry.MustRegister(w.delivered, w.failed, w.dropped, &depthCollector{depth: depth})
	return w
}

// Delivered counts an accepted delivery.
func (w *Webhooks) Delivered(hook string) { w.delivered.WithLabelValues(hook).Inc() }

// Failed counts a failed attempt.
func (w *Webhooks) Failed(hook string) { w.failed.WithLabelValues(hook).Inc() }

// Dropped counts n deliveries given up.
func (w *Webhooks) Dropped(hook string, n int) { w.dropped.WithLabelValues(hook).Add(float64(n)) }

var webhookDepthDesc = prometheus.NewDesc("portus_webhook_queue_depth",
	"Webhook deliveries waiting in the store's queue.", []string{"hook"}, nil)

// depthCollector asks the queue at scrape time, as the other gauges do.
type depthCollector struct{ depth func() map[string]int }

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- webhookDepthDesc }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	for hook, n := range c.depth() {
		ch <- prometheus.MustNewConstMetric(webhookDepthDesc, prometheus.GaugeValue, float64(n), hook)
	}
}
