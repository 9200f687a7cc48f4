// Package dbtest gives tests a real PostgreSQL: BENCHD_TEST_DATABASE_URL or DATABASE_URL when
// set, otherwise a private cluster (db/embedpg) started on first use and stopped by Main.
//
// Use Main in the package's TestMain, then Schema for a fresh migrated schema with a Store
// bound to it, or EmptySchema for code with its own tables:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		s := dbtest.Schema(t)
//		run, err := s.Store.InsertRun(ctx, …)
//	}
//
// Each schema is dropped when its test ends, so tests may commit and run in parallel.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/embedpg"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

var (
	mu       sync.Mutex
	baseURL  string
	cluster  *embedpg.Cluster
	startErr error
	// shared are the schemas made by Shared, dropped by Main.
	shared = map[string]*DB{}
)

// Main runs the package's tests, stops the private cluster if one was started, then fails the
// run if goroutines leaked (goleak).
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	for name, d := range shared {
		if d.Store != nil {
			d.Store.Close()
		}
		if err := dropSchema(baseURL, name); err != nil {
			fmt.Fprintln(os.Stderr, "dbtest: dropping shared schema:", err)
		}
		delete(shared, name)
	}
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "dbtest: stopping PostgreSQL:", err)
		}
		cluster = nil
	}
	mu.Unlock()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "dbtest: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// URL returns the URL of the test database (starting the private cluster on first use). It
// fails the test when there is neither a URL nor PostgreSQL binaries.
func URL(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if baseURL == "" && startErr == nil {
		baseURL = os.Getenv("BENCHD_TEST_DATABASE_URL")
		if baseURL == "" {
			baseURL = os.Getenv("DATABASE_URL")
		}
		if baseURL == "" {
			cluster, startErr = embedpg.Start(context.Background(), embedpg.Config{})
			if startErr == nil {
				baseURL = cluster.URL()
			}
		}
	}
	if startErr != nil {
		t.Fatalf("starting the test database: %v", startErr)
	}
	return baseURL
}

// DB is a fresh schema of the test database.
type DB struct {
	// Name is the schema's name.
	Name string
	// URL connects to the test database with search_path set to the schema.
	URL string
	// Store is bound to the schema (nil for EmptySchema).
	Store *db.Store
}

// Schema returns a fresh schema with benchd's and River's migrations applied and a Store bound
// to it. Both are dropped when the test ends.
func Schema(t testing.TB) *DB {
	t.Helper()
	d := EmptySchema(t)
	ctx := context.Background()
	m, err := db.NewMigrator(ctx, d.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Up(ctx)
	m.Close()
	if err != nil {
		t.Fatalf("migrating schema %s: %v", d.Name, err)
	}
	d.Store, err = db.Open(ctx, d.URL, nil)
	if err != nil {
		t.Fatalf("opening schema %s: %v", d.Name, err)
	}
	t.Cleanup(d.Store.Close) // runs before the schema is dropped (cleanups run last-in first-out)
	return d
}

// Shared returns the migrated schema called name (a Store bound to it), made and filled by seed
// on the first call in this process and returned as it is by later calls; Main drops it when
// the package's tests end. It is for benchmark fixtures too costly to build on every call of a
// benchmark function (go test runs it once per -count and per -benchtime probe): callers must
// not change what seed stored. A seed error fails tb and every later call.
func Shared(tb testing.TB, name string, seed func(*DB) error) *DB {
	tb.Helper()
	base := URL(tb)
	schema := "shared_" + unsafe.ReplaceAllString(strings.ToLower(name), "_")
	mu.Lock()
	defer mu.Unlock()
	if d, ok := shared[schema]; ok {
		if d.Store == nil {
			tb.Fatalf("shared schema %s: its seed failed earlier", name)
		}
		return d
	}
	d := &DB{Name: schema}
	shared[schema] = d
	fail := func(format string, args ...any) *DB {
		tb.Helper()
		if d.Store != nil {
			d.Store.Close()
			d.Store = nil
		}
		tb.Fatalf(format, args...)
		return nil
	}
	if err := dropSchema(base, schema); err != nil { // left behind by a killed run
		return fail("%v", err)
	}
	ctx := context.Background()
	if err := execErr(base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fail("%v", err)
	}
	u, err := WithSearchPath(base, schema)
	if err != nil {
		return fail("%v", err)
	}
	d.URL = u
	mg, err := db.NewMigrator(ctx, d.URL, nil)
	if err != nil {
		return fail("%v", err)
	}
	_, err = mg.Up(ctx)
	mg.Close()
	if err != nil {
		return fail("migrating schema %s: %v", schema, err)
	}
	if d.Store, err = db.Open(ctx, d.URL, nil); err != nil {
		return fail("opening schema %s: %v", schema, err)
	}
	if err := seed(d); err != nil {
		return fail("seeding schema %s: %v", schema, err)
	}
	return d
}

func dropSchema(databaseURL, schema string) error {
	return execErr(databaseURL, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// EmptySchema returns a fresh empty schema (no migrations), dropped when the test ends.
func EmptySchema(t testing.TB) *DB {
	t.Helper()
	base := URL(t)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = "t_" + name + "_" + hex.EncodeToString(suffix)
	exec(t, base, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE") })
	u, err := WithSearchPath(base, name)
	if err != nil {
		t.Fatal(err)
	}
	return &DB{Name: name, URL: u}
}

// WithSearchPath returns databaseURL (URL or key=value form) with search_path set to schema.
func WithSearchPath(databaseURL, schema string) (string, error) {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		u, err := url.Parse(databaseURL)
		if err != nil {
			return "", fmt.Errorf("parsing database URL: %w", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return databaseURL + " search_path=" + schema, nil
}

// Exec runs sql (with args) on its own connection to databaseURL, failing the test on error.
func Exec(t testing.TB, databaseURL, sql string, args ...any) {
	t.Helper()
	exec(t, databaseURL, sql, args...)
}

func exec(t testing.TB, databaseURL, sql string, args ...any) {
	t.Helper()
	if err := execErr(databaseURL, sql, args...); err != nil {
		t.Fatal(err)
	}
}

func execErr(databaseURL, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("connecting to the test database: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// Conn returns a connection to databaseURL closed when the test ends, for raw SQL that
// bypasses the Store.
func Conn(t testing.TB, databaseURL string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Tx returns a transaction on databaseURL rolled back when the test ends, for tests whose
// writes must leave nothing behind.
func Tx(t testing.TB, databaseURL string) pgx.Tx {
	t.Helper()
	conn := Conn(t, databaseURL)
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatalf("beginning a transaction: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) }) // runs before the conn closes
	return tx
}
