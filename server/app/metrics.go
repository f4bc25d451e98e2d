package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/shared/apitypes"
)

// minMetricsToken is the shortest bearer token accepted: /metrics is not
// throttled, so a short token could be guessed.
const minMetricsToken = 16

// MetricsHandler returns /metrics in the Prometheus format, behind the
// bearer token of metrics.token_file when one is set. The public listener
// mounts it unless metrics.listen gives it an address of its own.
func MetricsHandler(core *Core) (http.Handler, error) {
	h := core.Metrics.Handler()
	path := core.Config.Metrics.TokenFile
	if path == "" {
		return h, nil
	}
	token, err := readMetricsToken(path)
	if err != nil {
		return nil, err
	}
	return requireBearer(token, h), nil
}

func readMetricsToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the metrics token: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if len(token) < minMetricsToken {
		return "", fmt.Errorf("the metrics token file %s holds %d characters: use at least %d (e.g. `openssl rand -hex 32 > %s`)", path, len(token), minMetricsToken, path)
	}
	return token, nil
}

// requireBearer answers 401 unless the request carries
// "Authorization: Bearer <token>". Both sides are hashed first, so the
// comparison takes the same time whatever the length of the guess.
func requireBearer(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, got, _ := strings.Cut(auth, " ")
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(apitypes.Error{Message: "/metrics needs Authorization: Bearer with the token of metrics.token_file"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// startMetrics serves /metrics alone on metrics.listen, reporting the
// server's end on errc. It returns nil when metrics.listen is not set.
func startMetrics(core *Core, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	addr := core.Config.Metrics.Listen
	if addr == "" {
		return nil, nil
	}
	h, err := MetricsHandler(core)
	if err != nil {
		return nil, err
	}
	e, err := newEngine(log, nil)
	if err != nil {
		return nil, err
	}
	e.GET("/metrics", gin.WrapH(h))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for /metrics: %w (choose another --metrics-listen)", addr, err)
	}
	srv := &http.Server{Handler: e, MaxHeaderBytes: 16 << 10,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving /metrics on its own address", "addr", ln.Addr().String(), "token", core.Config.Metrics.TokenFile != "")
	return srv, nil
}
