package api_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"

	"github.com/portusproject/portus/server/api"
	"github.com/portusproject/portus/server/internal/testserver"
	"github.com/portusproject/portus/server/registryauth"
)

// specPath is the OpenAPI document, relative to this package.
const specPath = "../../docs/openapi.yaml"

// TestMain validates every response of this package's test servers
// against docs/openapi.yaml (see validating).
// When every test ran, each operation must have been validated at least
// once, so that no schema goes unchecked.
func TestMain(m *testing.M) {
	testserver.DefaultWrap = validating
	code := m.Run()
	if f := flag.Lookup("test.run"); code == 0 && f != nil && f.Value.String() == "" && !testing.Short() {
		if missed := unexercised(); len(missed) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no test's response was validated for these operations of docs/openapi.yaml (add a request to a test):\n  %s\n", strings.Join(missed, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// exercised are the operations whose responses were validated.
var exercised sync.Map

func unexercised() []string {
	doc := spec.doc
	if doc == nil {
		return nil
	}
	var missed []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if _, ok := exercised.Load(method + " " + path); !ok {
				missed = append(missed, method+" "+path)
			}
		}
	}
	slices.Sort(missed)
	return missed
}

var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// loadSpec loads and checks the document once per test binary.
func loadSpec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	spec.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(specPath)
		if err != nil {
			spec.err = fmt.Errorf("loading %s: %w", specPath, err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			spec.err = fmt.Errorf("%s is not a valid OpenAPI document: %w", specPath, err)
			return
		}
		// Test servers listen on any port: match paths alone.
		doc.Servers = nil
		spec.doc = doc
		spec.router, spec.err = gorillamux.NewRouter(doc)
	})
	if spec.err != nil {
		t.Fatal(spec.err)
	}
	return spec.doc, spec.router
}

// validating checks each response of a route in the document against its
// schema, status and headers; requests to other routes (the web pages)
// pass unchecked. Mismatches fail the test when it ends.
func validating(t testing.TB, next http.Handler) http.Handler {
	_, router := loadSpec(t)
	var (
		mu       sync.Mutex
		failures []string
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range failures {
			t.Errorf("response does not match docs/openapi.yaml: %s", f)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := router.FindRoute(r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		exercised.Store(route.Method+" "+route.Path, true)
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		if err := validateResponse(r, route, params, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			mu.Lock()
			failures = append(failures, fmt.Sprintf("%s %s → %d %.300s:\n%v", r.Method, r.URL.Path, rec.Code, bytes.TrimSpace(rec.Body.Bytes()), err))
			mu.Unlock()
		}
	})
}

func validateResponse(r *http.Request, route *routers.Route, params map[string]string, status int, header http.Header, body []byte) error {
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	return openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	})
}

// ginParam is a gin path parameter, {name} in OpenAPI.
var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// TestOpenAPIRoutes: the routes of the public listener and of the admin
// socket are exactly the operations of docs/openapi.yaml.
func TestOpenAPIRoutes(t *testing.T) {
	doc, _ := loadSpec(t)
	served := map[string]bool{}
	h := &api.Handler{Metrics: http.NotFoundHandler(), SigningKeys: noKeys{}}
	public, admin := gin.New(), gin.New()
	h.Routes(public)
	h.AdminRoutes(admin)
	for _, e := range []*gin.Engine{public, admin} {
		for _, r := range e.Routes() {
			served[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
		}
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !served[r] {
			extra = append(extra, r)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("routes the server serves that docs/openapi.yaml lacks (document them):\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("operations in docs/openapi.yaml that the server does not serve (remove them):\n  %s", strings.Join(extra, "\n  "))
	}
	if len(served) < 20 {
		t.Errorf("only %d routes found in the gin route tables", len(served))
	}
}

// noKeys lets AdminRoutes register the signing-key routes for the walk.
type noKeys struct{}

func (noKeys) Status() (registryauth.KeyStatus, error)     { return registryauth.KeyStatus{}, nil }
func (noKeys) Rotate() (registryauth.KeyStatus, error)     { return registryauth.KeyStatus{}, nil }
func (noKeys) Activate() (registryauth.KeyStatus, error)   { return registryauth.KeyStatus{}, nil }
func (noKeys) Retire(bool) (registryauth.KeyStatus, error) { return registryauth.KeyStatus{}, nil }
