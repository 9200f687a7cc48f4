package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/benchd/benchd/runner"
	"github.com/jackc/pgx/v5"
)

// Scale of the page benchmarks' database (issue 6): 200 benchmarks × 1,000 runs of main.
const (
	scaleRuns       = 1000
	scaleBenchmarks = 200
	scaleRegressed  = 7 // Op/case=7 is 2× slower in the latest run
	// From run 49 on, every 50th run starts a lasting regression (1.5× slower) of one more
	// benchmark, Op/case=100, 101, …: alerts the alert queries have to skip or list.
	scaleSteps = 100
)

// scaleStep returns the run from which benchmark i is 1.5× slower (ok false: never).
func scaleStep(i int) (run int, ok bool) {
	run = 49 + 50*(i-scaleSteps)
	return run, i >= scaleSteps && run < scaleRuns-1
}

// scaleSamples returns the 10 samples of benchmark i in run r: a level per benchmark, noise,
// a slow drift, the lasting regressions of scaleStep, and (in the latest run) benchmark
// scaleRegressed twice as slow.
func scaleSamples(rng *rand.Rand, r, i int) []float64 {
	s := make([]float64, 10)
	level := 1e-6 * float64(100+i) * (1 + 0.0001*float64(r))
	if r == scaleRuns-1 && i == scaleRegressed {
		level *= 2
	}
	if at, ok := scaleStep(i); ok && r >= at {
		level *= 1.5
	}
	for k := range s {
		s[k] = level * (1 + 0.02*rng.NormFloat64())
		s[k] = math.Abs(s[k])
	}
	return s
}

// seedScale fills d with scaleRuns runs of main on testbed "bench", each with scaleBenchmarks
// results of 10 samples (sec/op), one run every hour: most through Store.InsertRun (one COPY
// per run, not judged); the first run of each lasting regression (every 50th) through
// Store.Submit, which judges it and opens its alert; the last as a POST stores it (so it is
// judged and its regression alerted).
func seedScale(d *dbtest.DB) error {
	ctx := context.Background()
	store := d.Store
	rng := rand.New(rand.NewPCG(6, 200))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	results := func(r int) []runner.Result {
		out := make([]runner.Result, scaleBenchmarks)
		for i := range out {
			out[i] = runner.Result{Name: fmt.Sprintf("Op/case=%d", i), Unit: "sec/op", Better: runner.LowerBetter, Samples: scaleSamples(rng, r, i)}
		}
		return out
	}
	for r := range scaleRuns - 1 {
		commit, at := fmt.Sprintf("%040x", r), start.Add(time.Duration(r)*time.Hour)
		if step, ok := scaleStep(scaleSteps + r/50); ok && step == r {
			j, err := store.Submit(ctx, db.Submission{Project: "sessioncore", Branch: "main", Testbed: db.Testbed{Name: "bench"},
				Commit: commit, Trigger: db.TriggerCI, StartedAt: at, Results: results(r)})
			if err != nil {
				return err
			}
			var opened []string // the earlier lasting regressions' alerts are updated
			for _, a := range j.Alerts {
				if a.Action == runner.AlertOpen {
					opened = append(opened, a.Name)
				}
			}
			if want := fmt.Sprintf("Op/case=%d", scaleSteps+r/50); len(opened) != 1 || opened[0] != want {
				return fmt.Errorf("run %d: got alert changes %+v, want the regression of %s opened", r, j.Alerts, want)
			}
			continue
		}
		nr := db.NewRun{Project: "sessioncore", Branch: "main", Testbed: db.Testbed{Name: "bench"}, Commit: commit,
			Trigger: db.TriggerCI, StartedAt: at}
		for _, res := range results(r) {
			nr.Results = append(nr.Results, db.NewResult{Result: res, Summary: runner.Summarize(res.Samples, runner.Options{})})
		}
		if _, err := store.InsertRun(ctx, nr); err != nil {
			return err
		}
	}
	s, err := New(Config{}, Deps{Store: store})
	if err != nil {
		return err
	}
	in := &RunInput{Branch: "main", Testbed: "bench", Commit: fmt.Sprintf("%040x", scaleRuns-1), Trigger: "ci",
		StartedAt: start.Add(time.Duration(scaleRuns-1) * time.Hour), Results: results(scaleRuns - 1)}
	rep, _, err := s.submit(ctx, "sessioncore", in, "")
	if err != nil {
		return err
	}
	if rep.Status != "regressed" {
		return fmt.Errorf("the latest run is %s, want regressed", rep.Status)
	}
	conn, err := pgx.Connect(ctx, d.URL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "VACUUM ANALYZE") // as autovacuum does for insert-only tables
	return err
}

// scaleServer returns a Server over the shared 200 × 1,000 database (seeded once per process).
func scaleServer(b *testing.B) *Server {
	b.Helper()
	t0 := time.Now()
	d := dbtest.Shared(b, "pages_200x1000", seedScale)
	if dt := time.Since(t0); dt > time.Second {
		b.Logf("seeded %d runs × %d benchmarks in %v", scaleRuns, scaleBenchmarks, dt.Round(time.Millisecond))
	}
	s, err := New(Config{}, Deps{Store: d.Store})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)

// BenchmarkPages measures server-side rendering (database reads included, no network) of the
// dashboard and the benchmark page over 200 benchmarks × 1,000 stored runs, and reports each
// page's weight: its HTML (B/html, and gzip-compressed B/html-gz) and the static files it
// loads (B/assets: echarts.min.js, app.js, app.css, cached for a year under hashed names;
// B/assets-gz as sent to a browser, which accepts gzip).
func BenchmarkPages(b *testing.B) {
	get := func(b *testing.B, s *Server, path string) {
		b.Helper()
		var body []byte
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != 200 {
				b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
			}
			body = rec.Body.Bytes()
		}
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write(body)
		w.Close()
		var assets, assetsGz int
		for _, m := range assetRef.FindAllSubmatch(body, -1) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", string(m[1]), nil))
			assets += rec.Body.Len()
			req := httptest.NewRequest("GET", string(m[1]), nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec = httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			assetsGz += rec.Body.Len()
		}
		b.ReportMetric(float64(len(body)), "B/html")
		b.ReportMetric(float64(gz.Len()), "B/html-gz")
		b.ReportMetric(float64(assets), "B/assets")
		b.ReportMetric(float64(assetsGz), "B/assets-gz")
	}
	// getGzip fetches the page as a browser does (gzip), so the compression's cost shows beside
	// the plain rendering; B/sent is what goes over the wire.
	getGzip := func(b *testing.B, s *Server, path string) {
		b.Helper()
		var sent int
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" {
				b.Fatalf("GET %s accepting gzip: %d, Content-Encoding %q", path, rec.Code, rec.Header().Get("Content-Encoding"))
			}
			sent = rec.Body.Len()
		}
		b.ReportMetric(float64(sent), "B/sent")
	}
	dashboard := fmt.Sprintf("page=dashboard/benchmarks=%d/runs=%d", scaleBenchmarks, scaleRuns)
	dashboardPath := "/?project=sessioncore&branch=main"
	benchmark := fmt.Sprintf("page=benchmark/points=%d", scaleRuns)
	benchmarkPath := "/benchmark?" + url.Values{"project": {"sessioncore"}, "branch": {"main"}, "testbed": {"bench"}, "name": {"Op/case=7"}, "unit": {"sec/op"}}.Encode()
	b.Run(dashboard, func(b *testing.B) { get(b, scaleServer(b), dashboardPath) })
	b.Run(dashboard+"/enc=gzip", func(b *testing.B) { getGzip(b, scaleServer(b), dashboardPath) })
	b.Run(benchmark, func(b *testing.B) { get(b, scaleServer(b), benchmarkPath) })
	b.Run(benchmark+"/enc=gzip", func(b *testing.B) { getGzip(b, scaleServer(b), benchmarkPath) })
}
