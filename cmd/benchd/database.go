package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/embedpg"
)

// databaseFlags say which database to use: a server's URL, or the embedded cluster's data
// directory.
type databaseFlags struct {
	url     string // --database-url / DATABASE_URL; default "" = the embedded cluster
	dataDir string // --data-dir / BENCHD_DATA_DIR; default defaultDataDir()
}

func (f *databaseFlags) register(fs *flag.FlagSet, env *environ) {
	fs.StringVar(&f.url, "database-url", env.getenv("DATABASE_URL"),
		"PostgreSQL URL (env DATABASE_URL); empty: a private PostgreSQL in --data-dir")
	def := env.getenv("BENCHD_DATA_DIR")
	if def == "" {
		def = defaultDataDir(env.getenv)
	}
	fs.StringVar(&f.dataDir, "data-dir", def,
		"benchd's data directory (env BENCHD_DATA_DIR), holding the private PostgreSQL when no URL is given")
}

// defaultDataDir is $XDG_DATA_HOME/benchd, else ~/.local/share/benchd. As root, whose home is
// usually 0700 and so out of reach of the postgres user the server runs as, it is
// /var/lib/benchd instead when the home one cannot be reached.
func defaultDataDir(getenv func(string) string) string {
	base := getenv("XDG_DATA_HOME")
	if base == "" {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		base = filepath.Join(home, ".local", "share")
	}
	dir := filepath.Join(base, "benchd")
	if os.Geteuid() == 0 && embedpg.Reachable(dir) != nil {
		return "/var/lib/benchd"
	}
	return dir
}

// startDatabase returns the URL of the database to use: url itself when non-empty, otherwise
// that of a private cluster started in dataDir/postgres. stop stops the cluster (a no-op for
// a URL). Use it where a second pool is needed (River's); openDatabase for the Store.
// exclusive (serve, worker) refuses a cluster another live benchd runs instead of sharing it:
// a long-running process must not lose its database when that other one ends.
func startDatabase(ctx context.Context, url, dataDir string, logger *slog.Logger, exclusive bool) (dbURL string, stop func(), err error) {
	if url != "" {
		return url, func() {}, nil
	}
	if dataDir == "" {
		return "", nil, errors.New("starting the private PostgreSQL: no --data-dir")
	}
	// The cluster outlives ctx (cancelled by SIGINT/SIGTERM) so that a server can drain its
	// requests first: stop, which the caller defers, shuts it down (and a killed benchd takes
	// it along through the parent-death signal).
	c, err := embedpg.Start(context.WithoutCancel(ctx), embedpg.Config{DataDir: filepath.Join(dataDir, "postgres"), Logger: logger, Exclusive: exclusive})
	if err != nil {
		if errors.Is(err, embedpg.ErrNoBinaries) {
			return "", nil, fmt.Errorf("no database: %w", err)
		}
		if errors.Is(err, embedpg.ErrInUse) {
			return "", nil, fmt.Errorf("starting the private PostgreSQL: %w", err)
		}
		return "", nil, fmt.Errorf("starting the private PostgreSQL in %s: %w", dataDir, err)
	}
	logger.Info("started the private PostgreSQL", "data_dir", c.DataDir())
	return c.URL(), func() {
		if err := c.Stop(); err != nil {
			logger.Error("stopping the private PostgreSQL", "err", err)
		}
	}, nil
}

// openDatabase opens the Store on url, or on the private cluster in dataDir when url is empty.
// The private cluster is migrated up to this benchd's schema (nobody else uses it); a server
// named by url must be migrated with `benchd migrate up` first (a stale schema is refused).
// closeFn closes the Store and stops the cluster.
func openDatabase(ctx context.Context, url, dataDir string, logger *slog.Logger) (store *db.Store, closeFn func(), err error) {
	dbURL, stop, err := startDatabase(ctx, url, dataDir, logger, false)
	if err != nil {
		return nil, nil, err
	}
	if url == "" {
		m, err := db.NewMigrator(ctx, dbURL, logger)
		if err != nil {
			stop()
			return nil, nil, err
		}
		_, err = m.Up(ctx)
		m.Close()
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("migrating the private PostgreSQL: %w", err)
		}
	}
	s, err := db.Open(ctx, dbURL, logger)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return s, func() { s.Close(); stop() }, nil
}

// cliLogger logs to stderr as text at warning level and above (commands print their own
// results on stdout).
func cliLogger(env *environ) *slog.Logger {
	return slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
