package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/benchd/benchd/db/embedpg"
)

// testURL is the database the tests use: BENCHD_TEST_DATABASE_URL or DATABASE_URL when set,
// otherwise a private cluster started by TestMain.
var testURL string

func TestMain(m *testing.M) {
	code := run(m)
	if code == 0 {
		// After run: the private cluster's goroutines are gone by then.
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M) int {
	testURL = os.Getenv("BENCHD_TEST_DATABASE_URL")
	if testURL == "" {
		testURL = os.Getenv("DATABASE_URL")
	}
	if testURL == "" {
		cluster, err := embedpg.Start(context.Background(), embedpg.Config{Database: "pgstore_test"})
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgstore tests: no BENCHD_TEST_DATABASE_URL or DATABASE_URL, "+
				"and starting a private PostgreSQL failed: %v\n", err)
			return 1
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "pgstore tests: stopping PostgreSQL: %v\n", err)
			}
		}()
		testURL = cluster.URL()
	}
	return m.Run()
}

// testSchema creates a fresh schema and returns its name; it is dropped when tb ends. Every
// test gets its own, so tests that commit can run in parallel.
func testSchema(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "pgstore_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, testURL)
	if err != nil {
		tb.Fatalf("connecting to %s: %v", testURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		tb.Fatalf("creating schema %s: %v", name, err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, testURL)
		if err != nil {
			tb.Errorf("connecting to drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			tb.Errorf("dropping schema %s: %v", name, err)
		}
	})
	return name
}

// schemaPool returns a pool whose connections use schema; it is closed when tb ends.
func schemaPool(tb testing.TB, schema string) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(testURL)
	if err != nil {
		tb.Fatalf("parsing %s: %v", testURL, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("opening a pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// testPool returns a pool on a fresh, migrated schema.
func testPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool := schemaPool(tb, testSchema(tb))
	if _, err := Migrate(context.Background(), pool); err != nil {
		tb.Fatalf("migrating: %v", err)
	}
	return pool
}

// testStore returns a store on a fresh schema, closed (and checked) when tb ends.
func testStore(tb testing.TB, cfg Config) (*Store, *pgxpool.Pool) {
	tb.Helper()
	pool := testPool(tb)
	s := New(pool, cfg)
	tb.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			tb.Errorf("closing the store: %v", err)
		}
	})
	return s, pool
}
