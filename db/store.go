package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/benchd/benchd/db/internal/dbsqlc"
	"github.com/benchd/benchd/runner"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is benchd's data: every read and write of the service goes through its methods. It is
// safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	health *pgxpool.Pool // one connection of its own for Ping, so /readyz never queues behind requests
	q      *dbsqlc.Queries
	logger *slog.Logger
}

// Options tune the Store's connection pool. The zero value gives the defaults.
type Options struct {
	// MaxConns is the most connections the Store opens. Default 10 (a pool_max_conns
	// parameter of the URL wins when it is given).
	MaxConns int32
	// StatementTimeout bounds every statement on the server side (PostgreSQL's
	// statement_timeout), so a query cut off on the client does not run on. Default 30s; a
	// statement_timeout parameter of the URL wins when it is given.
	StatementTimeout time.Duration
	// Logger receives the Store's warnings. Default: discard.
	Logger *slog.Logger
}

// Open connects to databaseURL (a search_path parameter selects the schema) with the default
// Options and checks that its schema is the one this code needs: a database that is not
// migrated, or migrated by a newer benchd, is refused with an error wrapping ErrStaleSchema.
func Open(ctx context.Context, databaseURL string, logger *slog.Logger) (*Store, error) {
	return OpenWith(ctx, databaseURL, Options{Logger: logger})
}

// OpenWith is Open with pool options. A server that does not answer is an error wrapping
// ErrUnavailable.
func OpenWith(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	if opts.StatementTimeout <= 0 {
		opts.StatementTimeout = 30 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = opts.MaxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, unavailable(fmt.Errorf("connecting to the database: %w", err))
	}
	hcfg := cfg.Copy()
	hcfg.MaxConns, hcfg.MinConns = 1, 0
	hcfg.ConnConfig.RuntimeParams["statement_timeout"] = "1000"
	health, err := pgxpool.NewWithConfig(ctx, hcfg)
	if err != nil {
		pool.Close()
		return nil, unavailable(fmt.Errorf("connecting to the database: %w", err))
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		health.Close()
		return nil, unavailable(err)
	}
	return &Store{pool: pool, health: health, q: dbsqlc.New(pool), logger: logger}, nil
}

// Close closes every connection; the Store must not be used afterwards.
func (s *Store) Close() {
	s.pool.Close()
	s.health.Close()
}

// Ping checks that the database answers and that its schema is still the one this code needs
// (for /readyz). It uses a connection of its own, so it answers even while every pooled
// connection waits on a lock. An unreachable database is an error wrapping ErrUnavailable, a
// stale schema one wrapping ErrStaleSchema.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.health.Ping(ctx); err != nil {
		return unavailable(fmt.Errorf("pinging the database: %w", err))
	}
	return unavailable(checkSchema(ctx, s.health))
}

// inTx runs fn in a transaction: committed when fn returns nil, rolled back otherwise
// (including when ctx is cancelled half-way).
func (s *Store) inTx(ctx context.Context, fn func(q *dbsqlc.Queries) error) error {
	return unavailable(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(s.q.WithTx(tx)) }))
}

// Project is a benchmarked code base.
type Project struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// Branch is a branch of a project.
type Branch struct {
	ID        int64
	ProjectID int64
	Name      string
	CreatedAt time.Time
}

// Testbed is a machine fingerprint; results are compared only within one testbed.
type Testbed struct {
	ID        int64
	Name      string // unique, e.g. "ci-amd64-2cpu"
	GOOS      string
	GOARCH    string
	CPU       string
	GoVersion string
	CreatedAt time.Time
}

// EnsureProject returns the project called name, creating it when missing.
func (s *Store) EnsureProject(ctx context.Context, name string) (Project, error) {
	p, err := ensureProject(ctx, s.q, name)
	return p, mapError(err, "ensuring project %q", name)
}

// EnsureBranch returns the branch of a project, creating both when missing.
func (s *Store) EnsureBranch(ctx context.Context, project, branch string) (Branch, error) {
	p, err := ensureProject(ctx, s.q, project)
	if err != nil {
		return Branch{}, mapError(err, "ensuring project %q", project)
	}
	b, err := ensureBranch(ctx, s.q, p.ID, branch)
	return b, mapError(err, "ensuring branch %q of %q", branch, project)
}

// EnsureTestbed returns the testbed called tb.Name, creating it when missing. Non-empty
// fingerprint fields of tb that differ from the stored ones replace them.
func (s *Store) EnsureTestbed(ctx context.Context, tb Testbed) (Testbed, error) {
	t, err := ensureTestbed(ctx, s.q, tb)
	return t, mapError(err, "ensuring testbed %q", tb.Name)
}

// ListProjects returns every project by name (empty when none).
func (s *Store) ListProjects(ctx context.Context) ([]Project, error) {
	rows, err := s.q.ProjectList(ctx)
	if err != nil {
		return nil, mapError(err, "listing projects")
	}
	out := make([]Project, len(rows))
	for i, r := range rows {
		out[i] = Project{ID: r.ID, Name: r.Name, CreatedAt: ts(r.CreatedAt)}
	}
	return out, nil
}

// ListBranches returns the branches of a project by name (empty when none or no project).
func (s *Store) ListBranches(ctx context.Context, project string) ([]Branch, error) {
	rows, err := s.q.BranchList(ctx, project)
	if err != nil {
		return nil, mapError(err, "listing branches of %q", project)
	}
	out := make([]Branch, len(rows))
	for i, r := range rows {
		out[i] = Branch{ID: r.ID, ProjectID: r.ProjectID, Name: r.Name, CreatedAt: ts(r.CreatedAt)}
	}
	return out, nil
}

// ListTestbeds returns every testbed by name (empty when none).
func (s *Store) ListTestbeds(ctx context.Context) ([]Testbed, error) {
	rows, err := s.q.TestbedList(ctx)
	if err != nil {
		return nil, mapError(err, "listing testbeds")
	}
	out := make([]Testbed, len(rows))
	for i, r := range rows {
		out[i] = testbedFrom(r)
	}
	return out, nil
}

// The ensure helpers read first (the common case, no write and no row lock) and insert with
// ON CONFLICT DO NOTHING; a concurrent insert of the same name is read back.

func ensureProject(ctx context.Context, q *dbsqlc.Queries, name string) (Project, error) {
	r, err := q.ProjectGetByName(ctx, name)
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = q.ProjectInsert(ctx, name)
		if errors.Is(err, pgx.ErrNoRows) {
			r, err = q.ProjectGetByName(ctx, name)
		}
	}
	return Project{ID: r.ID, Name: r.Name, CreatedAt: ts(r.CreatedAt)}, err
}

func ensureBranch(ctx context.Context, q *dbsqlc.Queries, projectID int64, name string) (Branch, error) {
	key := dbsqlc.BranchGetByNameParams{ProjectID: projectID, Name: name}
	r, err := q.BranchGetByName(ctx, key)
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = q.BranchInsert(ctx, dbsqlc.BranchInsertParams(key))
		if errors.Is(err, pgx.ErrNoRows) {
			r, err = q.BranchGetByName(ctx, key)
		}
	}
	return Branch{ID: r.ID, ProjectID: r.ProjectID, Name: r.Name, CreatedAt: ts(r.CreatedAt)}, err
}

func ensureTestbed(ctx context.Context, q *dbsqlc.Queries, tb Testbed) (Testbed, error) {
	r, err := q.TestbedGetByName(ctx, tb.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = q.TestbedInsert(ctx, dbsqlc.TestbedInsertParams{Name: tb.Name, Goos: tb.GOOS,
			Goarch: tb.GOARCH, Cpu: tb.CPU, GoVersion: tb.GoVersion})
		if errors.Is(err, pgx.ErrNoRows) {
			r, err = q.TestbedGetByName(ctx, tb.Name)
		}
	}
	if err != nil {
		return Testbed{}, err
	}
	upd := dbsqlc.TestbedUpdateFingerprintParams{ID: r.ID, Goos: pick(tb.GOOS, r.Goos),
		Goarch: pick(tb.GOARCH, r.Goarch), Cpu: pick(tb.CPU, r.Cpu), GoVersion: pick(tb.GoVersion, r.GoVersion)}
	if upd.Goos != r.Goos || upd.Goarch != r.Goarch || upd.Cpu != r.Cpu || upd.GoVersion != r.GoVersion {
		r, err = q.TestbedUpdateFingerprint(ctx, upd)
	}
	return testbedFrom(r), err
}

func pick(new, old string) string {
	if new != "" {
		return new
	}
	return old
}

func testbedFrom(r dbsqlc.Testbed) Testbed {
	return Testbed{ID: r.ID, Name: r.Name, GOOS: r.Goos, GOARCH: r.Goarch, CPU: r.Cpu,
		GoVersion: r.GoVersion, CreatedAt: ts(r.CreatedAt)}
}

// TestbedOf is the testbed Go benchmark config lines describe (goos, goarch, cpu, go), named
// "goos/goarch/cpu" ("goos/goarch" without a cpu line): the name of a run's testbed when its
// submitter gives none, the same for `benchd run`, `benchd post`, the API and the worker.
// Name is "" without goos or goarch.
func TestbedOf(cfg []runner.ConfigLine) Testbed {
	var tb Testbed
	for _, c := range cfg {
		switch c.Key {
		case "goos":
			tb.GOOS = c.Value
		case "goarch":
			tb.GOARCH = c.Value
		case "cpu":
			tb.CPU = c.Value
		case "go", "goversion":
			tb.GoVersion = c.Value
		}
	}
	if tb.GOOS != "" && tb.GOARCH != "" {
		tb.Name = tb.GOOS + "/" + tb.GOARCH
		if tb.CPU != "" {
			tb.Name += "/" + tb.CPU
		}
	}
	return tb
}
