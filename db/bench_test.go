package db_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/jackc/pgx/v5"
)

// BenchmarkInsertRun stores runs of 200 results × 10 samples, each in one transaction
// (path=store), next to its floor measured in the same run: the same rows COPYed into results
// on a raw connection in a transaction that is rolled back (path=raw_copy).
func BenchmarkInsertRun(b *testing.B) {
	const n = 200
	d := dbtest.Schema(b)
	ctx := context.Background()
	nr := newRun("p", n, 10)
	first, err := d.Store.InsertRun(ctx, nr) // project, branch, testbed exist from here on
	if err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("results=%d/samples=10/path=store", n), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Store.InsertRun(ctx, nr); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "results/s")
	})
	b.Run(fmt.Sprintf("results=%d/samples=10/path=raw_copy", n), func(b *testing.B) {
		conn := dbtest.Conn(b, d.URL)
		cols := []string{"run_id", "name", "procs", "unit", "better", "samples", "n", "median", "ci_lo", "ci_hi"}
		var pid int
		if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			b.Fatal(err)
		}
		cpu0, cpuOK := backendCPU(pid)
		b.ReportAllocs()
		for b.Loop() {
			tx, err := conn.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var runID int64
			if err := tx.QueryRow(ctx, `INSERT INTO runs (project_id, branch_id, testbed_id, trigger)
				VALUES ($1, $2, $3, 'ci') RETURNING id`, first.ProjectID, first.BranchID, first.TestbedID).Scan(&runID); err != nil {
				b.Fatal(err)
			}
			rows := make([][]any, n)
			for i, r := range nr.Results {
				rows[i] = []any{runID, r.Name, int32(0), r.Unit, int16(r.Better), r.Samples,
					int32(r.Summary.N), r.Summary.Median, r.Summary.Lo, r.Summary.Hi}
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"results"}, cols, pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
			_ = tx.Rollback(ctx)
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "results/s")
		// The server's CPU time per result, which the machine's other load barely changes
		// (only when the server runs here, as the embedded one does).
		if cpu1, ok := backendCPU(pid); ok && cpuOK {
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(n*b.N), "backend-µs/result")
		}
	})
}

// backendCPU returns the user+system CPU time of process pid from /proc (false when it is not
// a process of this machine). Its resolution is the clock tick (10 ms).
func backendCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.Atoi(f[11])
	stime, err2 := strconv.Atoi(f[12])
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// fillHistory stores runs runs of perRun results each on p/main/tb1, plus a fifth as many on
// another branch and another testbed (the series must skip them), with raw SQL for speed.
func fillHistory(tb testing.TB, d *dbtest.DB, runs, perRun int) {
	tb.Helper()
	ctx := context.Background()
	if _, err := d.Store.InsertRun(ctx, newRun("p", 1, 1)); err != nil {
		tb.Fatal(err)
	}
	if _, err := d.Store.EnsureBranch(ctx, "p", "dev"); err != nil {
		tb.Fatal(err)
	}
	if _, err := d.Store.EnsureTestbed(ctx, db.Testbed{Name: "tb2"}); err != nil {
		tb.Fatal(err)
	}
	dbtest.Exec(tb, d.URL, `
		INSERT INTO runs (project_id, branch_id, testbed_id, commit_sha, trigger, started_at)
		SELECT 1, CASE WHEN i % 7 = 1 THEN 2 ELSE 1 END, CASE WHEN i % 7 = 2 THEN 2 ELSE 1 END,
		       md5(i::text), 'ci', timestamptz '2026-01-01' + i * interval '1 minute'
		FROM generate_series(1, $1::int) AS i`, runs*7/5)
	dbtest.Exec(tb, d.URL, `
		INSERT INTO results (run_id, name, unit, better, samples, n, median, ci_lo, ci_hi)
		SELECT r.id, 'Bench/n=' || k, 'sec/op', -1, array_fill(k::float8, ARRAY[10]), 10, k, k, k
		FROM runs r CROSS JOIN generate_series(1, $1::int) AS k`, perRun)
	dbtest.Exec(tb, d.URL, "VACUUM ANALYZE") // as autovacuum does for insert-only tables
}

// BenchmarkHistory reads one benchmark's series out of 10,000 runs on its branch and testbed
// (14,000 runs, 280,000 results in all).
func BenchmarkHistory(b *testing.B) {
	d := dbtest.Schema(b)
	fillHistory(b, d, 10000, 20)
	ctx := context.Background()
	for _, points := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("runs=10000/points=%d", points), func(b *testing.B) {
			q := db.HistoryQuery{Project: "p", Branch: "main", Testbed: "tb1", Name: "Bench/n=7", Unit: "sec/op", Limit: points}
			b.ReportAllocs()
			for b.Loop() {
				h, err := d.Store.BenchmarkHistory(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(h) != points {
					b.Fatalf("got %d points, want %d", len(h), points)
				}
			}
		})
	}
}

// historySQL returns the generated text of the history query, so the plan checked is the
// plan of the query the Store runs.
func historySQL(t testing.TB) string {
	return generatedSQL(t, "internal/dbsqlc/result.sql.go", "benchmarkHistory", "BenchmarkHistory")
}

// generatedSQL returns the text of query name (Go constant constName) generated by sqlc in file.
func generatedSQL(t testing.TB, file, constName, name string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)const " + constName + " = `-- name: " + name + " :\\w+\n(.*?)`").FindSubmatch(src)
	if m == nil {
		t.Fatalf("%s not found in %s", constName, file)
	}
	return string(m[1])
}

// explain returns the plan of sql run with args, with actual row counts.
func explain(t testing.TB, d *dbtest.DB, sql string, args ...any) string {
	t.Helper()
	rows, err := dbtest.Conn(t, d.URL).Query(context.Background(), "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestHistoryPlanUsesIndexes checks, on 10,000 runs, that the history query walks the series
// newest first through runs_series_idx, finds each run's result through the unique
// (run_id, name, unit) index, and never scans runs or results. docs/data.md shows the plan.
func TestHistoryPlanUsesIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 10,000 runs")
	}
	d := dbtest.Schema(t)
	fillHistory(t, d, 10000, 5)
	rows, err := dbtest.Conn(t, d.URL).Query(context.Background(), "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "+historySQL(t),
		"Bench/n=3", "sec/op", "p", "main", "tb1", 100)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	t.Logf("plan:\n%s", text)
	if !strings.Contains(text, "runs_series_idx") || !strings.Contains(text, "results_run_id_name_unit_key") {
		t.Errorf("the plan does not walk runs_series_idx and probe results_run_id_name_unit_key")
	}
	if strings.Contains(text, "Seq Scan on results") || strings.Contains(text, "Seq Scan on runs") {
		t.Errorf("the plan scans a whole table")
	}
}
