package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
	"github.com/benchd/benchd/web"
	"github.com/benchd/benchd/web/jobs"
)

// serveConfig is the configuration of `benchd serve` and `benchd worker`, from flags and
// BENCHD_* variables (a flag wins over its variable). validate checks it before anything
// starts.
type serveConfig struct {
	db databaseFlags
	// addr is the listen address (BENCHD_ADDR). Default 127.0.0.1:8080.
	addr string
	// baseURL is the external URL used in links (BENCHD_BASE_URL). Default "" (relative links).
	baseURL string
	// webhookSecret is the GitHub webhook secret (BENCHD_WEBHOOK_SECRET). Default "": no webhook.
	webhookSecret string
	// webhookBranches are the branches whose pushes queue runs (BENCHD_WEBHOOK_BRANCHES,
	// comma-separated). Default "main".
	webhookBranches string
	// project receives webhook and scheduled runs (BENCHD_PROJECT). Default "sessioncore".
	project string
	// suite is the suite webhook and scheduled runs use (BENCHD_SUITE). Default "quick".
	suite string
	// repo is the repository jobs clone (BENCHD_REPO). Default: the git repository benchd is
	// started in.
	repo string
	// repoGiven is true when repo was set by flag or variable (not defaulted): only then do
	// webhook jobs clone it instead of the payload's clone_url.
	repoGiven bool
	// branch is the branch scheduled runs benchmark (BENCHD_BRANCH). Default "main".
	branch string
	// schedule queues periodic runs: "6h", "@every 30m", cron "0 3 * * *" or "off"
	// (BENCHD_SCHEDULE). Default: defaultSchedule when the worker's repository has a
	// benchd.yaml (scheduleDefaults), else none.
	schedule string
	// branchGiven is true when --branch or BENCHD_BRANCH was set.
	branchGiven bool
	// firstRun queues a run at start when the project has none (scheduleDefaults).
	firstRun bool
	// noWorker turns the worker inside serve off (BENCHD_NO_WORKER=1). Default false.
	noWorker bool
	// concurrency is the number of jobs a worker runs at once (BENCHD_CONCURRENCY). Default 1.
	concurrency int
	// jobTimeout bounds a job (BENCHD_JOB_TIMEOUT). Default 1h.
	jobTimeout time.Duration
	// cacheDir holds the repository cache (BENCHD_CACHE_DIR). Default <data-dir>/repos.
	cacheDir string
	// testbed names the worker's machine (BENCHD_TESTBED). Default: goos/goarch/cpu.
	testbed string
	// maxBody caps request bodies in bytes (BENCHD_MAX_BODY). Default 8 MiB.
	maxBody int64
	// metricsAddr, for `benchd worker`, serves /metrics there (BENCHD_METRICS_ADDR). Default ""
	// (none).
	metricsAddr string
	// logFormat is text, json or auto (BENCHD_LOG_FORMAT; auto: text on a terminal). Default auto.
	logFormat string
	// logLevel is debug, info, warn or error (BENCHD_LOG_LEVEL). Default info.
	logLevel string
	// requestTimeout bounds one HTTP request (BENCHD_REQUEST_TIMEOUT). Default 10s.
	requestTimeout time.Duration
	// dbMaxConns is the most database connections the Store opens (BENCHD_DB_MAX_CONNS).
	// Default 10.
	dbMaxConns int
	// statementTimeout is PostgreSQL's statement_timeout for the Store's connections
	// (BENCHD_STATEMENT_TIMEOUT). Default 30s.
	statementTimeout time.Duration

	// envErrs are the BENCHD_* variables that did not parse, reported by validate.
	envErrs []string
}

// envInt returns the integer in variable key, or def when it is unset. A value that is not
// an integer is recorded in c.envErrs (a usage error naming the variable) and def returned.
func (c *serveConfig) envInt(env *environ, key string, def int64) int64 {
	v := strings.TrimSpace(env.getenv(key))
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		c.envErrs = append(c.envErrs, fmt.Sprintf("%s=%q: want an integer", key, v))
		return def
	}
	return n
}

// envDuration is envInt for durations ("90s", "1h").
func (c *serveConfig) envDuration(env *environ, key string, def time.Duration) time.Duration {
	v := strings.TrimSpace(env.getenv(key))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		c.envErrs = append(c.envErrs, fmt.Sprintf("%s=%q: want a duration such as 90s or 1h", key, v))
		return def
	}
	return d
}

// envBool is envInt for switches: 1, true, yes or on; 0, false, no or off.
func (c *serveConfig) envBool(env *environ, key string) bool {
	switch v := strings.ToLower(strings.TrimSpace(env.getenv(key))); v {
	case "", "0", "false", "no", "off":
		return false
	case "1", "true", "yes", "on":
		return true
	default:
		c.envErrs = append(c.envErrs, fmt.Sprintf("%s=%q: want 1 or 0 (true or false)", key, v))
		return false
	}
}

func envOr(env *environ, key, def string) string {
	if v := env.getenv(key); v != "" {
		return v
	}
	return def
}

// register binds the flags; server adds the HTTP ones.
func (c *serveConfig) register(fs *flag.FlagSet, env *environ, server bool) {
	c.db.register(fs, env)
	if server {
		fs.StringVar(&c.addr, "addr", envOr(env, "BENCHD_ADDR", "127.0.0.1:8080"), "listen address (env BENCHD_ADDR)")
		fs.StringVar(&c.baseURL, "base-url", env.getenv("BENCHD_BASE_URL"), "external URL for links, e.g. https://bench.example.com (env BENCHD_BASE_URL)")
		fs.StringVar(&c.webhookSecret, "webhook-secret", env.getenv("BENCHD_WEBHOOK_SECRET"), "GitHub webhook secret; empty disables the webhook (env BENCHD_WEBHOOK_SECRET)")
		fs.StringVar(&c.webhookBranches, "webhook-branches", envOr(env, "BENCHD_WEBHOOK_BRANCHES", "main"), "comma-separated branches whose pushes queue a run (env BENCHD_WEBHOOK_BRANCHES)")
		fs.BoolVar(&c.noWorker, "no-worker", c.envBool(env, "BENCHD_NO_WORKER"), "do not run jobs in this process (env BENCHD_NO_WORKER=1)")
		fs.Int64Var(&c.maxBody, "max-body", c.envInt(env, "BENCHD_MAX_BODY", 8<<20), "largest request body in bytes, compressed or not (env BENCHD_MAX_BODY)")
		fs.DurationVar(&c.requestTimeout, "request-timeout", c.envDuration(env, "BENCHD_REQUEST_TIMEOUT", 10*time.Second), "time limit of one HTTP request; past it the reply is 503 (env BENCHD_REQUEST_TIMEOUT)")
	} else {
		fs.StringVar(&c.metricsAddr, "metrics-addr", env.getenv("BENCHD_METRICS_ADDR"), "serve Prometheus /metrics on this address, e.g. 127.0.0.1:9101 (env BENCHD_METRICS_ADDR; default none)")
	}
	fs.StringVar(&c.project, "project", envOr(env, "BENCHD_PROJECT", "sessioncore"), "project of webhook and scheduled runs (env BENCHD_PROJECT)")
	fs.StringVar(&c.suite, "suite", envOr(env, "BENCHD_SUITE", "quick"), "suite of webhook and scheduled runs (env BENCHD_SUITE)")
	fs.StringVar(&c.repo, "repo", env.getenv("BENCHD_REPO"), "repository jobs clone (env BENCHD_REPO; default: the git repository of the working directory)")
	fs.StringVar(&c.branch, "branch", envOr(env, "BENCHD_BRANCH", "main"), "branch scheduled runs benchmark (env BENCHD_BRANCH)")
	fs.StringVar(&c.schedule, "schedule", env.getenv("BENCHD_SCHEDULE"), `periodic runs: an interval ("6h"), cron ("0 3 * * *", UTC) or off (env BENCHD_SCHEDULE; default 6h in a repository with a benchd.yaml)`)
	fs.IntVar(&c.concurrency, "concurrency", int(c.envInt(env, "BENCHD_CONCURRENCY", 1)), "jobs run at once by this worker (env BENCHD_CONCURRENCY)")
	fs.DurationVar(&c.jobTimeout, "job-timeout", c.envDuration(env, "BENCHD_JOB_TIMEOUT", time.Hour), "time limit of one job (env BENCHD_JOB_TIMEOUT)")
	fs.IntVar(&c.dbMaxConns, "db-max-conns", int(c.envInt(env, "BENCHD_DB_MAX_CONNS", 10)), "most database connections of the store (env BENCHD_DB_MAX_CONNS)")
	fs.DurationVar(&c.statementTimeout, "statement-timeout", c.envDuration(env, "BENCHD_STATEMENT_TIMEOUT", 30*time.Second), "PostgreSQL statement_timeout of the store's connections (env BENCHD_STATEMENT_TIMEOUT)")
	fs.StringVar(&c.cacheDir, "cache-dir", env.getenv("BENCHD_CACHE_DIR"), "repository cache (env BENCHD_CACHE_DIR; default <data-dir>/repos)")
	fs.StringVar(&c.testbed, "testbed", env.getenv("BENCHD_TESTBED"), "testbed name of this worker's runs (env BENCHD_TESTBED; default goos/goarch/cpu)")
	fs.StringVar(&c.logFormat, "log-format", envOr(env, "BENCHD_LOG_FORMAT", "auto"), "log format: auto, text or json (env BENCHD_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", envOr(env, "BENCHD_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env BENCHD_LOG_LEVEL)")
}

// validate checks the configuration and fills derived defaults. Every problem is a usage
// error naming the flag and its variable.
func (c *serveConfig) validate(server, worker bool) error {
	errs := append([]string(nil), c.envErrs...)
	if server {
		if _, port, err := net.SplitHostPort(c.addr); err != nil || port == "" {
			errs = append(errs, fmt.Sprintf("--addr %q (BENCHD_ADDR): want host:port", c.addr))
		}
		if c.baseURL != "" {
			u, err := url.Parse(c.baseURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Sprintf("--base-url %q (BENCHD_BASE_URL): want an http(s) URL", c.baseURL))
			}
			c.baseURL = strings.TrimRight(c.baseURL, "/")
		}
		if c.webhookSecret != "" && len(c.webhookSecret) < 16 {
			errs = append(errs, "--webhook-secret (BENCHD_WEBHOOK_SECRET): use at least 16 characters")
		}
		if c.maxBody < 1024 {
			errs = append(errs, fmt.Sprintf("--max-body %d (BENCHD_MAX_BODY): want at least 1024 bytes", c.maxBody))
		}
		if c.requestTimeout < 100*time.Millisecond {
			errs = append(errs, fmt.Sprintf("--request-timeout %s (BENCHD_REQUEST_TIMEOUT): want at least 100ms", c.requestTimeout))
		}
	}
	if c.metricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.metricsAddr); err != nil || port == "" {
			errs = append(errs, fmt.Sprintf("--metrics-addr %q (BENCHD_METRICS_ADDR): want host:port", c.metricsAddr))
		}
	}
	if c.schedule != "" && c.schedule != "off" {
		if _, err := jobs.ParseSchedule(c.schedule); err != nil {
			errs = append(errs, fmt.Sprintf("--schedule (BENCHD_SCHEDULE): %v", err))
		}
		if !worker {
			errs = append(errs, "--schedule needs a worker: drop --no-worker or run `benchd worker --schedule …`")
		}
	}
	if c.concurrency < 1 || c.concurrency > 64 {
		errs = append(errs, fmt.Sprintf("--concurrency %d (BENCHD_CONCURRENCY): want 1 to 64", c.concurrency))
	}
	if c.dbMaxConns < 2 || c.dbMaxConns > 1000 {
		errs = append(errs, fmt.Sprintf("--db-max-conns %d (BENCHD_DB_MAX_CONNS): want 2 to 1000", c.dbMaxConns))
	}
	if c.statementTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Sprintf("--statement-timeout %s (BENCHD_STATEMENT_TIMEOUT): want at least 100ms", c.statementTimeout))
	}
	if c.jobTimeout < time.Minute {
		errs = append(errs, fmt.Sprintf("--job-timeout %s (BENCHD_JOB_TIMEOUT): want at least 1m", c.jobTimeout))
	}
	switch c.logFormat {
	case "auto", "text", "json":
	default:
		errs = append(errs, fmt.Sprintf("--log-format %q (BENCHD_LOG_FORMAT): want auto, text or json", c.logFormat))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		errs = append(errs, fmt.Sprintf("--log-level %q (BENCHD_LOG_LEVEL): want debug, info, warn or error", c.logLevel))
	}
	if c.project == "" || c.suite == "" || c.branch == "" {
		errs = append(errs, "--project, --suite and --branch must not be empty")
	}
	c.repoGiven = c.repo != ""
	if worker && c.repo == "" {
		if out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); err == nil {
			c.repo = strings.TrimSpace(string(out))
		}
	}
	c.scheduleDefaults(worker)
	if worker && c.cacheDir == "" {
		c.cacheDir = filepath.Join(c.db.dataDir, "repos")
	}
	if len(errs) > 0 {
		return usageErrorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// logger builds the process logger: text on a terminal, JSON otherwise (or as configured).
func (c *serveConfig) logger(env *environ) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.logLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	format := c.logFormat
	if format == "auto" {
		format = "json"
		if f, ok := env.stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(env.stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(env.stderr, opts))
}

// webhookRepo is the repository webhook jobs clone: --repo when given, else "" (the
// payload's clone_url: the local checkout benchd runs in may not have the pushed commit).
func webhookRepo(cfg serveConfig) string {
	if cfg.repoGiven {
		return cfg.repo
	}
	return ""
}

// onListen, when set (by tests), receives the server's bound address.
var onListen func(net.Addr)

func cmdServe(ctx context.Context, args []string, env *environ) error {
	return serveOrWork(ctx, args, env, true)
}

func cmdWorker(ctx context.Context, args []string, env *environ) error {
	return serveOrWork(ctx, args, env, false)
}

// serveOrWork runs `benchd serve` (server, plus a worker unless --no-worker) or `benchd
// worker` (a worker alone) until ctx ends (SIGINT/SIGTERM), then shuts down: the listener
// closes, in-flight requests finish, running jobs are cancelled and released for retry.
func serveOrWork(ctx context.Context, args []string, env *environ, server bool) error {
	name := "worker"
	if server {
		name = "serve"
	}
	fs := flag.NewFlagSet("benchd "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var cfg serveConfig
	cfg.register(fs, env, server)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageErrorf("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	fs.Visit(func(f *flag.Flag) { cfg.branchGiven = cfg.branchGiven || f.Name == "branch" })
	cfg.branchGiven = cfg.branchGiven || env.getenv("BENCHD_BRANCH") != ""
	work := !server || !cfg.noWorker
	if err := cfg.validate(server, work); err != nil {
		return err
	}
	log := cfg.logger(env)

	dbURL, stopDB, err := startDatabase(ctx, cfg.db.url, cfg.db.dataDir, log, true)
	if err != nil {
		return err
	}
	defer stopDB()
	if cfg.db.url == "" {
		m, err := db.NewMigrator(ctx, dbURL, log)
		if err != nil {
			return err
		}
		_, err = m.Up(ctx)
		m.Close()
		if err != nil {
			return fmt.Errorf("migrating the private PostgreSQL: %w", err)
		}
	}
	store, err := db.OpenWith(ctx, dbURL, db.Options{MaxConns: int32(cfg.dbMaxConns), StatementTimeout: cfg.statementTimeout, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connecting the job queue: %w", err)
	}
	defer pool.Close()

	reg := prometheus.NewRegistry()
	var metrics *web.Metrics // the server's, or the lone worker's with --metrics-addr
	if !server && cfg.metricsAddr != "" {
		metrics = web.NewMetrics(reg, nil)
		stop, err := serveMetrics(ctx, cfg.metricsAddr, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	var worker *jobs.Worker
	if work {
		worker = &jobs.Worker{Repos: &jobs.RepoCache{Dir: cfg.cacheDir}, DefaultRepo: cfg.repo, Testbed: cfg.testbed, Log: log}
	}
	jc := jobs.Config{Concurrency: cfg.concurrency, JobTimeout: cfg.jobTimeout, Schedule: cfg.schedule,
		ScheduledJob: db.RunJob{Project: cfg.project, Repo: cfg.repo, Branch: cfg.branch, Suite: cfg.suite}}
	client, err := jobs.NewClient(pool, jc, worker, log)
	if err != nil {
		return err
	}

	var srv *web.Server
	if server {
		branches := strings.Split(cfg.webhookBranches, ",")
		for i := range branches {
			branches[i] = strings.TrimSpace(branches[i])
		}
		wc := web.Config{BaseURL: cfg.baseURL, MaxBodyBytes: cfg.maxBody, RequestTimeout: cfg.requestTimeout, WebhookSecret: cfg.webhookSecret,
			WebhookBranches: branches, WebhookSuite: cfg.suite, WebhookProject: cfg.project, WebhookRepo: webhookRepo(cfg)}
		// Posted runs are judged by the rules of the project file in the working directory,
		// when there is one (the database's rules of a project win: runner.RuleSource).
		if proj, err := runner.LoadProject("benchd.yaml"); err == nil {
			wc.Thresholds, wc.Options = proj.Thresholds, proj.Options
		} else if !errors.Is(err, iofs.ErrNotExist) {
			return &exitError{code: 2, err: err}
		}
		srv, err = web.New(wc,
			web.Deps{Store: store, Jobs: jobs.NewQueue(store, client), Logger: log, Registry: reg})
		if err != nil {
			return err
		}
		metrics = srv.Metrics()
	}
	if worker != nil {
		worker.Store = store
		if metrics != nil {
			worker.JobSeconds = metrics.JobSeconds
			worker.JobFailures = metrics.JobFailures
		}
		if err := client.Start(ctx); err != nil {
			return fmt.Errorf("starting the worker: %w", err)
		}
		log.Info("worker started", "concurrency", cfg.concurrency, "repo", cfg.repo, "schedule", cfg.schedule, "cache_dir", cfg.cacheDir)
		defer stopWorker(client, log)
		if cfg.firstRun {
			queueFirstRun(ctx, store, jobs.NewQueue(store, client), jc.ScheduledJob, log)
		}
	}
	if srv != nil {
		return srv.Run(ctx, cfg.addr, onListen)
	}
	<-ctx.Done()
	return nil
}

// serveMetrics serves reg on addr at /metrics until stop is called.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for metrics: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("serving metrics", "addr", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

// stopWorker cancels running jobs (River records them for retry, so another worker, or this
// one after a restart, runs them again) and waits for the client to stop.
func stopWorker(client *river.Client[pgx.Tx], log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log.Info("stopping the worker; running jobs are released for retry")
	if err := client.StopAndCancel(ctx); err != nil {
		log.Error("stopping the worker", "error", err.Error())
	}
}
