package db_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/jackc/pgx/v5"
)

// assertNoTrace fails unless the schema holds no run and no result.
func assertNoTrace(t *testing.T, d *dbtest.DB) {
	t.Helper()
	for _, table := range []string{"runs", "results"} {
		if n := count(t, d, table); n != 0 {
			t.Errorf("for rows in %s after a failed insert, got %d, want 0", table, n)
		}
	}
}

// TestInsertRunAllOrNothingOnRefusedResult: result 150 of 200 is refused by the database (a NaN
// sample, an infinite one, an empty sample list, a summary whose N disagrees with the samples):
// nothing of the run is stored.
func TestInsertRunAllOrNothingOnRefusedResult(t *testing.T) {
	for name, spoil := range map[string]func(r *db.NewResult){
		"nan":         func(r *db.NewResult) { r.Samples[5] = math.NaN() },
		"inf":         func(r *db.NewResult) { r.Samples[0] = math.Inf(1) },
		"neg_inf":     func(r *db.NewResult) { r.Samples[9] = math.Inf(-1) },
		"empty":       func(r *db.NewResult) { r.Samples = nil; r.Summary.N = 0 },
		"n_mismatch":  func(r *db.NewResult) { r.Summary.N = 3 },
		"bad_ci":      func(r *db.NewResult) { r.Summary.Lo = r.Summary.Median + 1 },
		"bad_better":  func(r *db.NewResult) { r.Better = 7 },
		"empty_name":  func(r *db.NewResult) { r.Name = "" },
		"nan_summary": func(r *db.NewResult) { r.Summary.Median = math.NaN() },
	} {
		t.Run("spoil="+name, func(t *testing.T) {
			d := dbtest.Schema(t)
			nr := newRun("p", 200, 10)
			spoil(&nr.Results[150])
			_, err := d.Store.InsertRun(context.Background(), nr)
			if !errors.Is(err, db.ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
			assertNoTrace(t, d)
		})
	}
}

// blockResults makes the next COPY into results wait: another session holds a SHARE lock on
// the table (COPY needs ROW EXCLUSIVE), so InsertRun stops half-way, after its run row.
// It returns a function that waits until a backend is blocked and returns its pid, and the
// lock holder's transaction.
func blockResults(t *testing.T, d *dbtest.DB) (waitBlocked func() int, holder pgx.Tx) {
	t.Helper()
	ctx := context.Background()
	holder = dbtest.Tx(t, d.URL)
	if _, err := holder.Exec(ctx, "LOCK TABLE results IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	watcher := dbtest.Conn(t, d.URL)
	return func() int {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			var pid int
			err := watcher.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
				WHERE wait_event_type = 'Lock' AND query ILIKE 'copy%' AND datname = current_database()`).Scan(&pid)
			if err == nil {
				return pid
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no backend blocked on the results table within 30 s")
		return 0
	}, holder
}

// TestInsertRunAllOrNothingOnCancel cancels the context while the results are being copied.
func TestInsertRunAllOrNothingOnCancel(t *testing.T) {
	d := dbtest.Schema(t)
	wait, holder := blockResults(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := d.Store.InsertRun(ctx, newRun("p", 200, 10))
		errc <- err
	}()
	wait()
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want an error wrapping context.Canceled", err)
	}
	if err := holder.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertNoTrace(t, d)
}

// TestInsertRunAllOrNothingOnKilledConnection terminates the inserting backend from another
// connection while it is half-way.
func TestInsertRunAllOrNothingOnKilledConnection(t *testing.T) {
	d := dbtest.Schema(t)
	wait, holder := blockResults(t, d)
	errc := make(chan error, 1)
	go func() {
		_, err := d.Store.InsertRun(context.Background(), newRun("p", 200, 10))
		errc <- err
	}()
	pid := wait()
	if _, err := holder.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("got nil, want the error of a killed connection")
	}
	if err := holder.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertNoTrace(t, d)
	// The Store recovers: the next insert works on a fresh connection.
	if _, err := d.Store.InsertRun(context.Background(), newRun("p", 200, 10)); err != nil {
		t.Errorf("insert after a killed connection: got %v, want nil", err)
	}
	if n := count(t, d, "results"); n != 200 {
		t.Errorf("for results after the retry, got %d, want 200", n)
	}
}

// TestDatabaseRefusesBadData writes with raw SQL, bypassing the Store: the schema alone must
// refuse each of these.
func TestDatabaseRefusesBadData(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	run, err := d.Store.InsertRun(ctx, newRun("p", 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	conn := dbtest.Conn(t, d.URL)
	insertResult := `INSERT INTO results (run_id, name, unit, better, samples, n, median, ci_lo, ci_hi)
		VALUES ($1, $2, 'sec/op', -1, $3::float8[], $4, 1, 1, 1)`
	for _, c := range []struct {
		name string
		sql  string
		args []any
	}{
		{"nan sample", insertResult, []any{run.ID, "a", "{1,NaN,1}", 3}},
		{"inf sample", insertResult, []any{run.ID, "b", "{1,Infinity}", 2}},
		{"-inf sample", insertResult, []any{run.ID, "c", "{-Infinity}", 1}},
		{"empty samples", insertResult, []any{run.ID, "d", "{}", 0}},
		{"null sample", insertResult, []any{run.ID, "e", "{1,NULL}", 2}},
		{"2-d samples", insertResult, []any{run.ID, "f", "{{1},{1}}", 2}},
		{"orphan result", insertResult, []any{run.ID + 1000, "g", "{1}", 1}},
		{"duplicate result", insertResult, []any{run.ID, "Create/n=0", "{1}", 1}},
		{"n mismatch", insertResult, []any{run.ID, "h", "{1,1}", 3}},
		{"bad trigger", `INSERT INTO runs (project_id, branch_id, testbed_id, trigger) VALUES ($1, $2, $3, 'cron')`,
			[]any{run.ProjectID, run.BranchID, run.TestbedID}},
		{"bad status", `INSERT INTO runs (project_id, branch_id, testbed_id, trigger, status) VALUES ($1, $2, $3, 'ci', 'ok')`,
			[]any{run.ProjectID, run.BranchID, run.TestbedID}},
		{"duplicate idempotency key", `INSERT INTO runs (project_id, branch_id, testbed_id, trigger, idempotency_key)
			VALUES ($1, $2, $3, 'ci', 'k'), ($1, $2, $3, 'ci', 'k')`, []any{run.ProjectID, run.BranchID, run.TestbedID}},
		{"bad threshold kind", `INSERT INTO thresholds (project_id, benchmark, kind, warn) VALUES ($1, 'x', 'max', 1)`, []any{run.ProjectID}},
		{"nan threshold", `INSERT INTO thresholds (project_id, benchmark, kind, warn) VALUES ($1, 'x', 'upper', 'NaN')`, []any{run.ProjectID}},
		{"half an interval", `INSERT INTO results (run_id, name, unit, better, samples, n, median, ci_lo, ci_hi)
			VALUES ($1, 'i', 'sec/op', -1, '{1}', 1, 1, NULL, 1)`, []any{run.ID}},
		{"infinite interval", `INSERT INTO results (run_id, name, unit, better, samples, n, median, ci_lo, ci_hi)
			VALUES ($1, 'j', 'sec/op', -1, '{1}', 1, 1, '-Infinity', 'Infinity')`, []any{run.ID}},
		{"short token hash", `INSERT INTO api_tokens (name, hash) VALUES ('t', '\x00')`, nil},
		{"bad alert status", `INSERT INTO alerts (result_id, rule, value, status) SELECT id, 'upper', 1, 'open' FROM results`, nil},
	} {
		_, err := conn.Exec(ctx, c.sql, c.args...)
		if err == nil {
			t.Errorf("for %s, the database accepted it, want it refused", c.name)
		}
	}
	if n := count(t, d, "results"); n != 1 {
		t.Errorf("for results after refused inserts, got %d, want 1", n)
	}
}
