package web

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// Config is the web tier's configuration. The zero value is usable: every field has a default.
type Config struct {
	// BaseURL is the externally visible URL of benchd ("https://bench.example.com"), used in
	// links returned by the API. Default "": links are relative paths.
	BaseURL string
	// MaxBodyBytes caps a request body. Default 8 MiB.
	MaxBodyBytes int64
	// MaxBenchmarks caps the results (benchmark × unit) of one posted run. Default 10,000.
	MaxBenchmarks int
	// RequestTimeout bounds a request from its first handler to its reply: past it the
	// request's context ends, database calls stop and the reply is 503 with Retry-After.
	// Default 10s.
	RequestTimeout time.Duration
	// ShutdownTimeout is how long in-flight requests get to finish on shutdown. Default 15s.
	ShutdownTimeout time.Duration
	// WebhookSecret is the GitHub webhook secret. Default "": the webhook answers 404.
	WebhookSecret string
	// WebhookBranches are the branches whose pushes queue a run ("main" when empty).
	WebhookBranches []string
	// WebhookSuite is the suite a push runs. Default "quick".
	WebhookSuite string
	// WebhookProject is the project a push's run is stored under. Default "sessioncore".
	WebhookProject string
	// WebhookRepo is the repository a push's run clones ("" = the clone_url of the payload).
	WebhookRepo string
	// Thresholds are the project file's rules for posted runs (nil: none); a project's rules
	// in the database win, and runner.DefaultThresholds apply when neither has any.
	Thresholds []runner.Threshold
	// Options are the statistics settings posted runs are judged with (zero: runner's).
	Options runner.Options
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 8 << 20
	}
	if c.MaxBenchmarks <= 0 {
		c.MaxBenchmarks = 10000
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	if len(c.WebhookBranches) == 0 {
		c.WebhookBranches = []string{"main"}
	}
	if c.WebhookProject == "" {
		c.WebhookProject = "sessioncore"
	}
	if c.WebhookSuite == "" {
		c.WebhookSuite = "quick"
	}
	return c
}

// Deps are the web tier's collaborators.
type Deps struct {
	// Store is the data layer (required).
	Store *db.Store
	// Jobs enqueues benchmark runs for the webhook (nil: pushes are answered 503).
	Jobs JobQueue
	// Logger receives request and error logs. Default: discard.
	Logger *slog.Logger
	// Registry is where metrics are registered and what /metrics serves. Default: a new registry.
	Registry *prometheus.Registry
}

// Server is benchd's HTTP server. It is an http.Handler; Run serves it on an address.
type Server struct {
	cfg     Config
	store   *db.Store
	jobs    JobQueue
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *Metrics
	echo    *echo.Echo
	assets  *assets
	pages   map[string]*template.Template
}

// New builds a Server: parses templates, loads assets, registers metrics and routes. It fails
// only when an embedded file is broken or a required dependency is missing.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Store == nil {
		return nil, errors.New("web: Deps.Store is required")
	}
	s := &Server{
		cfg:   cfg.withDefaults(),
		store: deps.Store,
		log:   deps.Logger,
		reg:   deps.Registry,
		jobs:  deps.Jobs,
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	s.metrics = NewMetrics(s.reg, openAlerts{s.store})
	var err error
	if s.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if s.pages, err = parseTemplates(s.assets); err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RequestID())
	e.Use(s.observe)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableErrorHandler: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "handler panicked", "path", c.Request().URL.Path,
				"error", err.Error(), "stack", string(stack))
			return fmt.Errorf("handler panicked: %w", err)
		},
	}))
	e.Use(s.deadline)
	e.Use(s.limitBody)
	e.Use(s.decodeBody)
	e.Use(checkQuery)
	// Pages and API reads go gzipped to clients that accept it: a dashboard of 200 benchmarks
	// is ~230 KB of HTML and ~38 KB gzipped. BestSpeed: most of the gain for ~1 ms a page.
	// Static assets are compressed once at start (assets.go); /metrics compresses itself. The
	// replies to POSTs (CI, on the network next door) are not: a compressor per concurrent
	// ingestion doubled the heap of BenchmarkIngestParallel with 16 clients (18 → 41 MB).
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{
		Level:     gzip.BestSpeed,
		MinLength: 1024,
		Skipper: func(c echo.Context) bool {
			r := c.Request()
			return (r.Method != http.MethodGet && r.Method != http.MethodHead) ||
				strings.HasPrefix(r.URL.Path, staticPrefix) || r.URL.Path == "/metrics"
		},
	}))
	s.echo = e
	s.routes()
	return s, nil
}

// Metrics returns the server's collectors (the worker records job durations in them).
func (s *Server) Metrics() *Metrics { return s.metrics }

// ServeHTTP serves a request through Echo.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// routes registers every route. Page routes live in pages.go, API routes in api*.go.
func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))
	e.GET(staticPrefix+":name", s.assets.serve)
	s.apiRoutes(e.Group("/api/v1"))
	s.pageRoutes()
}

// observe logs every request with slog and counts it in the metrics. It hands a handler's
// error to the error handler first, so the status logged is the status sent.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		d := time.Since(start)
		req, res := c.Request(), c.Response()
		s.metrics.observe(c.Path(), req.Method, res.Status, d)
		level := slog.LevelInfo
		if res.Status >= 500 {
			level = slog.LevelError
		}
		if req.URL.Path == "/healthz" || req.URL.Path == "/metrics" || req.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		s.log.LogAttrs(req.Context(), level, "request",
			slog.String("method", req.Method), slog.String("path", req.URL.Path), slog.String("route", c.Path()),
			slog.Int("status", res.Status), slog.Int64("bytes_out", res.Size),
			slog.Duration("duration", d), slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
			slog.String("remote_ip", c.RealIP()))
		return nil
	}
}

// deadline gives every request but /readyz (which has its own, shorter one) a context that
// ends after Config.RequestTimeout: database calls past it fail with db.ErrUnavailable, and
// the error handler answers 503 with Retry-After.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.URL.Path == "/readyz" || req.URL.Path == "/healthz" {
			return next(c)
		}
		ctx, cancel := context.WithTimeout(req.Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(req.WithContext(ctx))
		return next(c)
	}
}

// limitBody caps the request body at Config.MaxBodyBytes; reading past it fails with
// *http.MaxBytesError, which the error handler maps to 413. A declared Content-Length over
// the cap is refused before reading.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.cfg.MaxBodyBytes {
			return errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is larger than the limit of %d bytes", req.ContentLength, s.cfg.MaxBodyBytes)
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.MaxBodyBytes)
		return next(c)
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyzTimeout bounds /readyz: a load balancer's check must get an answer, even from a
// frozen database.
const readyzTimeout = 900 * time.Millisecond

// readyz answers 200 when the database is reachable and its schema current, 503 otherwise,
// within readyzTimeout. The reply says only which of the two is wrong: the cause (host, port,
// user of the connection) is logged, never sent to a client without a token.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyzTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		msg := "database unavailable"
		if errors.Is(err, db.ErrStaleSchema) {
			msg = "database schema is not the one this benchd needs (run `benchd migrate up`)"
		}
		return &Error{Status: http.StatusServiceUnavailable, Message: msg, Err: err}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// Run serves on addr until ctx is cancelled, then shuts down gracefully: the listener closes,
// in-flight requests get Config.ShutdownTimeout to finish. ready, when non-nil, receives the
// bound address once the listener is open (useful with addr ":0").
func (s *Server) Run(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if ready != nil {
		ready(ln.Addr())
	}
	s.log.Info("serving", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
