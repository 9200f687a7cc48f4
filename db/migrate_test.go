package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
)

func applied(t *testing.T, m *db.Migrator, line string) int {
	t.Helper()
	st, err := m.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range st {
		if s.Line == line && s.Applied {
			n++
		}
	}
	return n
}

func TestMigrateUpDownUp(t *testing.T) {
	d := dbtest.EmptySchema(t)
	ctx := context.Background()
	m, err := db.NewMigrator(ctx, d.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	if got := applied(t, m, "benchd"); got != 0 {
		t.Fatalf("for a fresh schema, got %d applied, want 0", got)
	}
	if _, err := db.Open(ctx, d.URL, nil); !errors.Is(err, db.ErrStaleSchema) {
		t.Errorf("Open on an empty schema: got %v, want ErrStaleSchema", err)
	}
	done, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) < db.SchemaVersion()+1 {
		t.Errorf("for the first Up, got %d versions applied, want benchd's %d and River's", len(done), db.SchemaVersion())
	}
	if got := applied(t, m, "benchd"); got != db.SchemaVersion() {
		t.Errorf("after Up, got %d applied, want %d", got, db.SchemaVersion())
	}
	riverApplied := applied(t, m, "river")
	if riverApplied == 0 {
		t.Error("after Up, River's migrations are not applied")
	}
	if done, err := m.Up(ctx); err != nil || len(done) != 0 {
		t.Errorf("second Up: got %v, %v, want nothing to do", done, err)
	}
	s, err := db.Open(ctx, d.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: got %v, want nil", err)
	}
	if _, err := s.InsertRun(ctx, newRun("p", 2, 2)); err != nil {
		t.Fatal(err)
	}

	// One step down: benchd's latest migration is reverted, the Store refuses the schema.
	if _, err := m.Down(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := applied(t, m, "benchd"); got != db.SchemaVersion()-1 {
		t.Errorf("after Down(1), got %d applied, want %d", got, db.SchemaVersion()-1)
	}
	if err := s.Ping(ctx); !errors.Is(err, db.ErrStaleSchema) {
		t.Errorf("Ping after Down: got %v, want ErrStaleSchema", err)
	}
	s.Close()
	if _, err := db.Open(ctx, d.URL, nil); !errors.Is(err, db.ErrStaleSchema) {
		t.Errorf("Open after Down: got %v, want ErrStaleSchema", err)
	}

	// All the way down removes River's tables too; then up again.
	if _, err := m.Down(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if b, r := applied(t, m, "benchd"), applied(t, m, "river"); b != 0 || r != 0 {
		t.Errorf("after Down(0), got %d benchd and %d River versions applied, want 0 and 0", b, r)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if b, r := applied(t, m, "benchd"), applied(t, m, "river"); b != db.SchemaVersion() || r != riverApplied {
		t.Errorf("after Up again, got %d and %d applied, want %d and %d", b, r, db.SchemaVersion(), riverApplied)
	}
	s, err = db.Open(ctx, d.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	d := dbtest.Schema(t)
	dbtest.Exec(t, d.URL, "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future')", db.SchemaVersion()+1)
	_, err := db.Open(context.Background(), d.URL, nil)
	if !errors.Is(err, db.ErrStaleSchema) {
		t.Errorf("got %v, want ErrStaleSchema", err)
	}
}

// TestConcurrentMigrators: two migrators at once apply each migration exactly once.
func TestConcurrentMigrators(t *testing.T) {
	d := dbtest.EmptySchema(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	counts := make([]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			m, err := db.NewMigrator(ctx, d.URL, nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer m.Close()
			done, err := m.Up(ctx)
			counts[i], errs[i] = len(done), err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrator %d: %v", i, err)
		}
	}
	if counts[0] != 0 && counts[1] != 0 {
		t.Errorf("both migrators applied migrations (%d and %d), want one of them to find nothing to do", counts[0], counts[1])
	}
}
