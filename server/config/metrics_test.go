package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMetricsSettings(t *testing.T) {
	load := func(args []string, env map[string]string) (Config, error) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c, _, err := Load(fs, ServeFlags, args, func(k string) string { return env[k] })
		if err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := load(nil, nil)
	if err != nil || c.Metrics != (MetricsConfig{}) {
		t.Fatalf("defaults: %+v, %v", c.Metrics, err)
	}
	c, err = load([]string{"--metrics-token-file", "/run/secrets/metrics", "--metrics-listen", "127.0.0.1:9100"}, nil)
	if err != nil || c.Metrics != (MetricsConfig{TokenFile: "/run/secrets/metrics", Listen: "127.0.0.1:9100"}) {
		t.Errorf("flags: %+v, %v", c.Metrics, err)
	}
	c, err = load(nil, map[string]string{"PORTUS_METRICS_TOKEN_FILE": "/t", "PORTUS_METRICS_LISTEN": ":9100"})
	if err != nil || c.Metrics != (MetricsConfig{TokenFile: "/t", Listen: ":9100"}) {
		t.Errorf("environment: %+v, %v", c.Metrics, err)
	}
	file := filepath.Join(t.TempDir(), "portus.yaml")
	if err := os.WriteFile(file, []byte("metrics:\n  token_file: /f\n  listen: localhost:9100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = load([]string{"--config", file, "--metrics-listen", "localhost:9200"}, nil)
	if err != nil || c.Metrics != (MetricsConfig{TokenFile: "/f", Listen: "localhost:9200"}) {
		t.Errorf("file then flag: %+v, %v", c.Metrics, err)
	}
	for _, bad := range [][]string{
		{"--metrics-listen", "9100"},
		{"--metrics-listen", "localhost:http"},
		{"--metrics-listen", "localhost:70000"},
		{"--metrics-listen", "localhost:3000"}, // the default --listen
	} {
		if _, err := load(bad, nil); err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
			t.Errorf("%v: %v, want an error naming --metrics-listen", bad, err)
		}
	}
}
