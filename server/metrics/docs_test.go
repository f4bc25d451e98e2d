package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryMetricDocumented: docs/operators.md's table names every metric
// Portus registers, so a new one cannot ship unexplained.
func TestEveryMetricDocumented(t *testing.T) {
	m := New()
	m.Gauges(func() (int, error) { return 0, nil }, func() (int, int) { return 0, 0 })
	m.ExpiryGauge(func() (int, error) { return 0, nil })
	w := m.Webhooks(func() map[string]int { return map[string]int{"https://hooks.example/x": 1} })
	w.Delivered("h")
	w.Failed("h")
	w.Dropped("h", 1)
	m.AuthFailed("token")
	m.tokenLatency.Observe(0.001)
	m.requests.WithLabelValues("/healthz", "GET", "200").Inc()
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operators.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "portus_") {
			continue
		}
		seen++
		if !strings.Contains(string(doc), "`"+name+"`") && !strings.Contains(string(doc), "`"+name+"{") {
			t.Errorf("metric %s is not in docs/operators.md's table of metrics: add a row saying what it means", name)
		}
	}
	if seen < 10 {
		t.Errorf("gathered %d portus_ metrics; the test no longer registers them all", seen)
	}
}
