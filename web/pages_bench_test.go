package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// seedRuns stores runs of main on testbed "bench", each with benchmarks results of 10
// samples (sec/op), straight through the Store.
func seedRuns(b *testing.B, store *db.Store, runs, benchmarks int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now().Add(-time.Duration(runs) * time.Hour)
	for r := range runs {
		nr := db.NewRun{Project: "sessioncore", Branch: "main", Testbed: db.Testbed{Name: "bench"}, Commit: fmt.Sprintf("c%d", r),
			Trigger: db.TriggerCI, StartedAt: start.Add(time.Duration(r) * time.Hour)}
		for i := range benchmarks {
			s := make([]float64, 10)
			for k := range s {
				s[k] = 1e-6 * float64(100+i+k+r%7)
			}
			res := runner.Result{Name: fmt.Sprintf("Op/case=%d", i), Unit: "sec/op", Better: runner.LowerBetter, Samples: s}
			nr.Results = append(nr.Results, db.NewResult{Result: res, Summary: storable(runner.Summarize(s, runner.Options{}), s)})
		}
		if _, err := store.InsertRun(ctx, nr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPages measures server-side rendering (database reads included, no network) of the
// dashboard and the benchmark page, and reports each page's weight in bytes (HTML only; the
// embedded echarts.min.js is ~1 MB once, cached for a year).
func BenchmarkPages(b *testing.B) {
	get := func(b *testing.B, s *Server, path string) {
		b.Helper()
		var size int
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != 200 {
				b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
			}
			size = rec.Body.Len()
		}
		b.ReportMetric(float64(size), "B/page")
	}
	b.Run("page=dashboard/benchmarks=200/runs=20", func(b *testing.B) {
		e := newEnvB(b)
		seedRuns(b, e.db.Store, 20, 200)
		get(b, e.srv, "/?project=sessioncore&branch=main")
	})
	b.Run("page=benchmark/points=1000", func(b *testing.B) {
		e := newEnvB(b)
		seedRuns(b, e.db.Store, 1000, 1)
		get(b, e.srv, "/benchmark?"+url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {"Op/case=0"}, "unit": {"sec/op"}}.Encode())
	})
}
