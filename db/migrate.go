package db

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one numbered schema change of benchd's own tables.
type Migration struct {
	Version int
	Name    string
	up      string
	down    string
}

// MigrationState is a migration and whether (and when) it is applied to a database.
type MigrationState struct {
	// Line is "benchd" for benchd's tables, "river" for the job queue's.
	Line      string
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time // zero when not applied
}

var migrationName = regexp.MustCompile(`^(\d+)_([a-z0-9_]+)\.(up|down)\.sql$`)

// Migrations returns benchd's migrations in version order (parsed once from the embedded
// files; a malformed set is a build defect and panics).
func Migrations() []Migration {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(fmt.Sprintf("reading embedded migrations: %v", err))
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			panic(fmt.Sprintf("embedded migration %s: name is not NNNN_name.up|down.sql", e.Name()))
		}
		v, _ := strconv.Atoi(m[1])
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			panic(err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		if m[3] == "up" {
			mig.up = string(b)
		} else {
			mig.down = string(b)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.up == "" || m.down == "" {
			panic(fmt.Sprintf("embedded migration %d_%s lacks its up or down file", m.Version, m.Name))
		}
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			panic(fmt.Sprintf("embedded migrations: version %d where %d was expected", m.Version, i+1))
		}
	}
	return out
}

// SchemaVersion is the version of benchd's schema this code needs.
func SchemaVersion() int { return len(Migrations()) }

// Migrator applies and reverts benchd's migrations and River's (the job queue's tables are part
// of benchd's data). Every operation runs in one transaction under an advisory lock, so
// concurrent migrators wait for each other and a failed migration leaves nothing applied.
type Migrator struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// NewMigrator connects to databaseURL. A search_path parameter in the URL selects the schema.
func NewMigrator(ctx context.Context, databaseURL string, logger *slog.Logger) (*Migrator, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	cfg.MaxConns = 3
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	return &Migrator{pool: pool, logger: logger}, nil
}

// Close closes the migrator's connections.
func (m *Migrator) Close() { m.pool.Close() }

// Up applies every pending migration of benchd (in one transaction: all or none), then
// River's (a transaction per version, as River requires). It returns the versions applied
// (empty when the schema was up to date).
func (m *Migrator) Up(ctx context.Context) ([]MigrationState, error) {
	var done []MigrationState
	err := m.locked(ctx, func(conn *pgxpool.Conn) error {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			applied, err := appliedVersions(ctx, tx)
			if err != nil {
				return err
			}
			for _, mig := range Migrations() {
				if _, ok := applied[mig.Version]; ok {
					continue
				}
				if _, err := tx.Exec(ctx, mig.up); err != nil {
					return fmt.Errorf("applying migration %d_%s: %w", mig.Version, mig.Name, err)
				}
				if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", mig.Version, mig.Name); err != nil {
					return fmt.Errorf("recording migration %d: %w", mig.Version, err)
				}
				done = append(done, MigrationState{Line: "benchd", Version: mig.Version, Name: mig.Name, Applied: true})
			}
			return nil
		})
		if err != nil {
			done = nil
			return err
		}
		rm, err := rivermigrate.New(riverpgxv5.New(m.pool), &rivermigrate.Config{Logger: m.logger})
		if err != nil {
			return fmt.Errorf("preparing River migrations: %w", err)
		}
		res, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return fmt.Errorf("applying River migrations: %w", err)
		}
		for _, v := range res.Versions {
			done = append(done, MigrationState{Line: "river", Version: v.Version, Name: v.Name, Applied: true})
		}
		return nil
	})
	for _, d := range done {
		m.logger.Info("applied migration", "line", d.Line, "version", d.Version, "name", d.Name)
	}
	return done, err
}

// Down reverts the latest steps migrations of benchd in one transaction (steps ≤ 0: all of
// them, after River's tables). It returns the versions reverted, newest first.
func (m *Migrator) Down(ctx context.Context, steps int) ([]MigrationState, error) {
	var done []MigrationState
	err := m.locked(ctx, func(conn *pgxpool.Conn) error {
		migs := Migrations()
		if steps <= 0 {
			rm, err := rivermigrate.New(riverpgxv5.New(m.pool), &rivermigrate.Config{Logger: m.logger})
			if err != nil {
				return fmt.Errorf("preparing River migrations: %w", err)
			}
			res, err := rm.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1})
			if err != nil {
				return fmt.Errorf("reverting River migrations: %w", err)
			}
			for _, v := range res.Versions {
				done = append(done, MigrationState{Line: "river", Version: v.Version, Name: v.Name})
			}
			steps = len(migs)
		}
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			applied, err := appliedVersions(ctx, tx)
			if err != nil {
				return err
			}
			for i := len(migs) - 1; i >= 0 && steps > 0; i-- {
				mig := migs[i]
				if _, ok := applied[mig.Version]; !ok {
					continue
				}
				if _, err := tx.Exec(ctx, mig.down); err != nil {
					return fmt.Errorf("reverting migration %d_%s: %w", mig.Version, mig.Name, err)
				}
				if _, err := tx.Exec(ctx, "DELETE FROM schema_migrations WHERE version = $1", mig.Version); err != nil {
					return fmt.Errorf("unrecording migration %d: %w", mig.Version, err)
				}
				done = append(done, MigrationState{Line: "benchd", Version: mig.Version, Name: mig.Name})
				steps--
			}
			return nil
		})
	})
	for _, d := range done {
		m.logger.Info("reverted migration", "line", d.Line, "version", d.Version, "name", d.Name)
	}
	return done, err
}

// Status lists every known migration of benchd and River and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]MigrationState, error) {
	var out []MigrationState
	err := m.locked(ctx, func(conn *pgxpool.Conn) error {
		applied, err := appliedVersions(ctx, conn)
		if err != nil {
			return err
		}
		for _, mig := range Migrations() {
			at, ok := applied[mig.Version]
			out = append(out, MigrationState{Line: "benchd", Version: mig.Version, Name: mig.Name, Applied: ok, AppliedAt: at})
		}
		rm, err := rivermigrate.New(riverpgxv5.New(m.pool), &rivermigrate.Config{Logger: m.logger})
		if err != nil {
			return fmt.Errorf("preparing River migrations: %w", err)
		}
		existing, err := riverVersions(ctx, conn)
		if err != nil {
			return err
		}
		for _, v := range rm.AllVersions() {
			at, ok := existing[v.Version]
			out = append(out, MigrationState{Line: "river", Version: v.Version, Name: v.Name, Applied: ok, AppliedAt: at})
		}
		return nil
	})
	return out, err
}

// locked runs fn holding the migration lock of the current schema (a session advisory lock on
// a dedicated connection, so River's migrations, which need a transaction per version, run
// under it too), after making sure the schema_migrations table exists.
func (m *Migrator) locked(ctx context.Context, fn func(conn *pgxpool.Conn) error) error {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connecting to the database: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext('benchd.migrate.' || current_schema()))"); err != nil {
		return fmt.Errorf("taking the migration lock: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('benchd.migrate.' || current_schema()))"); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // a closed session drops its locks
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	return fn(conn)
}

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

func appliedVersions(ctx context.Context, q querier) (map[int]time.Time, error) {
	rows, err := q.Query(ctx, "SELECT version, applied_at FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	out := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			return nil, fmt.Errorf("reading schema_migrations: %w", err)
		}
		out[v] = at
	}
	return out, rows.Err()
}

// riverVersions reads River's applied versions (none when its table does not exist).
func riverVersions(ctx context.Context, tx querier) (map[int]time.Time, error) {
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('river_migration') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("looking for river_migration: %w", err)
	}
	out := map[int]time.Time{}
	if !exists {
		return out, nil
	}
	rows, err := tx.Query(ctx, "SELECT version, created_at FROM river_migration WHERE line = 'main'")
	if err != nil {
		return nil, fmt.Errorf("reading river_migration: %w", err)
	}
	for rows.Next() {
		var v int
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			return nil, fmt.Errorf("reading river_migration: %w", err)
		}
		out[v] = at
	}
	return out, rows.Err()
}

// ErrStaleSchema is returned by Open when the database's schema is not the version this code
// needs (run `benchd migrate up`) or is newer than it.
var ErrStaleSchema = errors.New("database schema does not match this benchd")

// checkSchema returns an error wrapping ErrStaleSchema unless benchd's and River's migrations
// are exactly those this code has.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	want := SchemaVersion()
	got, err := tableMax(ctx, pool, "schema_migrations", "")
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	switch {
	case got < 0:
		return fmt.Errorf("%w: no benchd schema in this database (run `benchd migrate up`)", ErrStaleSchema)
	case got < want:
		return fmt.Errorf("%w: schema is at version %d, this benchd needs %d (run `benchd migrate up`)", ErrStaleSchema, got, want)
	case got > want:
		return fmt.Errorf("%w: schema is at version %d, newer than this benchd's %d (upgrade benchd)", ErrStaleSchema, got, want)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("preparing River migrations: %w", err)
	}
	all := rm.AllVersions()
	riverWant := all[len(all)-1].Version
	riverGot, err := tableMax(ctx, pool, "river_migration", "WHERE line = 'main'")
	if err != nil {
		return fmt.Errorf("reading the job queue's schema version: %w", err)
	}
	riverGot = max(riverGot, 0)
	if riverGot != riverWant {
		return fmt.Errorf("%w: job queue schema is at version %d, this benchd needs %d (run `benchd migrate up`)", ErrStaleSchema, riverGot, riverWant)
	}
	return nil
}

// tableMax returns max(version) of table (0 when empty, -1 when the table does not exist).
func tableMax(ctx context.Context, pool *pgxpool.Pool, table, where string) (int, error) {
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return -1, nil
	}
	var v int
	err := pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+table+" "+where).Scan(&v)
	return v, err
}
