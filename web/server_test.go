package web

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/labstack/echo/v4"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// env is a server on a fresh schema, reached over real HTTP, with a token for project
// "sessioncore" and an all-projects token.
type env struct {
	db      *dbtest.DB
	srv     *Server
	ts      *httptest.Server
	token   string // scoped to sessioncore
	admin   string // all projects
	project string
}

func newEnv(t *testing.T, cfg Config, jobs JobQueue) *env { return newEnvTB(t, cfg, jobs) }

// newEnvStore serves store (already holding project sessioncore and token tok).
func newEnvStore(t *testing.T, store *db.Store, tok string) *env {
	t.Helper()
	s, err := New(Config{}, Deps{Store: store})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return newEnvStoreServer(t, s, tok)
}

// newEnvStoreServer serves s (whose store holds project sessioncore and token tok).
func newEnvStoreServer(t *testing.T, s *Server, tok string) *env {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &env{srv: s, ts: ts, token: tok, project: "sessioncore"}
}

func newEnvB(b *testing.B) *env { return newEnvTB(b, Config{}, nil) }

func newEnvTB(t testing.TB, cfg Config, jobs JobQueue) *env {
	t.Helper()
	d := dbtest.Schema(t)
	ctx := context.Background()
	if _, err := d.Store.EnsureProject(ctx, "sessioncore"); err != nil {
		t.Fatal(err)
	}
	_, tok, err := d.Store.CreateToken(ctx, "sessioncore", "ci")
	if err != nil {
		t.Fatal(err)
	}
	_, admin, err := d.Store.CreateToken(ctx, "", "admin")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, Deps{Store: d.Store, Jobs: jobs})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &env{db: d, srv: s, ts: ts, token: tok, admin: admin, project: "sessioncore"}
}

// do sends a request and returns the status, the headers and the body.
func do(t *testing.T, method, url string, body io.Reader, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, string(b)
}

func TestOperationalEndpoints(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	ts := e.ts

	check := func(path string, wantStatus int, wantBody string) {
		t.Helper()
		got, _, body := do(t, "GET", ts.URL+path, nil)
		if got != wantStatus || !strings.Contains(body, wantBody) {
			t.Errorf("for GET %s, got %d %q, want %d containing %q", path, got, body, wantStatus, wantBody)
		}
	}
	check("/healthz", 200, `"ok"`)
	check("/readyz", 200, `"ready"`)
	check("/metrics", 200, `benchd_http_requests_total{code="200",method="GET",route="/healthz"} 1`)
	check("/metrics", 200, "benchd_alerts_open 0")
	e.db.Store.Close()
	check("/readyz", 503, `{"error":{"status":503,"message":"database unavailable","request_id"`)
	if _, _, body := do(t, "GET", ts.URL+"/readyz", nil); strings.Contains(body, "127.0.0.1") || strings.Contains(body, "postgres") {
		t.Errorf("for GET /readyz of a closed store, got %q, want no connection details", body)
	}
}

func TestErrorResponses(t *testing.T) {
	ts := newEnv(t, Config{MaxBodyBytes: 16}, nil).ts

	status, hdr, body := do(t, "GET", ts.URL+"/api/v1/nothing", nil)
	var e errorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || status != 404 || e.Error.Status != 404 || e.Error.Message == "" || e.Error.RequestID == "" {
		t.Errorf("for an unknown API route, got %d %q (%v), want 404 with a JSON error and request id", status, body, err)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("for an unknown API route, got Content-Type %q, want JSON", ct)
	}

	status, hdr, body = do(t, "GET", ts.URL+"/no/<script>x</script>", nil)
	if status != 404 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || strings.Contains(body, "<script>x") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("for an unknown page, got %d %s %q, want an escaped HTML 404 page", status, hdr.Get("Content-Type"), body)
	}

	status, _, body = do(t, "POST", ts.URL+"/api/v1/nothing", strings.NewReader(strings.Repeat("x", 100)))
	if status != 413 || !strings.Contains(body, "larger than") {
		t.Errorf("for a 100-byte body over a 16-byte limit, got %d %q, want 413", status, body)
	}
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	s, ts := e.srv, e.ts
	u := s.assets.URL("echarts.min.js")
	if !strings.HasPrefix(u, "/static/echarts.min.") || u == "/static/echarts.min.js" {
		t.Fatalf("for the echarts URL, got %q, want a content-hashed name under /static/", u)
	}
	status, hdr, body := do(t, "GET", ts.URL+u, nil)
	if status != 200 || !strings.Contains(hdr.Get("Cache-Control"), "immutable") || len(body) < 500_000 || !strings.Contains(hdr.Get("Content-Type"), "javascript") {
		t.Errorf("for GET %s, got %d, Cache-Control %q, Content-Type %q, %d bytes; want 200, immutable, javascript, the ~1 MB library",
			u, status, hdr.Get("Cache-Control"), hdr.Get("Content-Type"), len(body))
	}
	// Compressed once at start, sent to clients that accept gzip.
	req, _ := http.NewRequest("GET", ts.URL+u, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(res.Body)
	var plain []byte
	if err == nil {
		plain, err = io.ReadAll(zr)
	}
	res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" || err != nil || string(plain) != body || res.ContentLength >= int64(len(body))/2 {
		t.Errorf("for GET %s accepting gzip, got Content-Encoding %q, %d bytes (%v), want gzip under half of %d bytes, the same content",
			u, res.Header.Get("Content-Encoding"), res.ContentLength, err, len(body))
	}
	for h, want := range map[string]bool{"gzip": true, "gzip;q=0": false, "br, gzip;q=0.5": true, "identity": false, "": false} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("for Accept-Encoding %q, got gzip %v, want %v", h, got, want)
		}
	}
	status, hdr, _ = do(t, "GET", ts.URL+"/static/echarts.min.js", nil)
	if status != 200 || strings.Contains(hdr.Get("Cache-Control"), "immutable") {
		t.Errorf("for the logical name, got %d with Cache-Control %q, want 200 revalidated", status, hdr.Get("Cache-Control"))
	}
	if status, _, _ = do(t, "GET", ts.URL+"/static/missing.js", nil); status != 404 {
		t.Errorf("for a missing static file, got %d, want 404", status)
	}
}

func TestPanicIsA500WithoutDetails(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	s, ts := e.srv, e.ts
	s.echo.GET("/api/v1/panic", func(c echo.Context) error { panic("secret detail") })
	status, _, body := do(t, "GET", ts.URL+"/api/v1/panic", nil)
	if status != 500 || strings.Contains(body, "secret") || strings.Contains(body, "goroutine") {
		t.Errorf("for a panicking handler, got %d %q, want 500 without details", status, body)
	}
}

// percentile returns the q-quantile of ds (sorted in place); 0 for none.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[int(q*float64(len(ds)-1))]
}

// TestPagesAndAPIAreGzipped: a client that accepts gzip gets pages, API replies and error
// pages compressed, with the same content; one that does not gets them plain.
func TestPagesAndAPIAreGzipped(t *testing.T) {
	e := newEnv(t, Config{}, nil)
	seedRegression(t, e)
	// get fetches path with the token, without the client's transparent decompression.
	get := func(path, acceptEncoding string) (status int, encoding, body string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Accept-Encoding", acceptEncoding)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r io.Reader = res.Body
		if res.Header.Get("Content-Encoding") == "gzip" {
			if r, err = gzip.NewReader(res.Body); err != nil {
				t.Fatalf("GET %s: gzip: %v", path, err)
			}
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return res.StatusCode, res.Header.Get("Content-Encoding"), string(b)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/", 200, "<html"},
		{"/runs", 200, "<html"},
		{"/api/v1/projects/sessioncore/runs", 200, `"runs"`},
		{"/runs/999999", 404, "404"},
	} {
		status, enc, plain := get(tc.path, "identity")
		if status != tc.status || enc != "" || !strings.Contains(plain, tc.want) {
			t.Errorf("GET %s without gzip: got %d, Content-Encoding %q; want %d, plain, containing %q", tc.path, status, enc, tc.status, tc.want)
		}
		status, enc, body := get(tc.path, "gzip")
		// Error pages name their request id: compare the rest.
		rid := regexp.MustCompile(`Request id <code>[^<]*</code>`)
		body, plain = rid.ReplaceAllString(body, ""), rid.ReplaceAllString(plain, "")
		if status != tc.status || body != plain {
			t.Errorf("GET %s accepting gzip: got %d and %d bytes, want %d and the same %d bytes as plain", tc.path, status, len(body), tc.status, len(plain))
		}
		if len(plain) > 2048 && enc != "gzip" {
			t.Errorf("GET %s accepting gzip: a %d-byte reply came with Content-Encoding %q, want gzip", tc.path, len(plain), enc)
		}
	}
}
