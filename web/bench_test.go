package web

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// benchOutput returns Go benchmark text of n benchmarks with samples samples each, in two
// units (sec/op and B/op), i.e. 2n results.
func benchOutput(n, samples int, rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("goos: linux\ngoarch: amd64\npkg: example.com/x\ncpu: bench\n")
	for i := range n {
		for range samples {
			fmt.Fprintf(&b, "BenchmarkOp/case=%d-2 \t 1000 \t %.1f ns/op \t %d B/op\n", i, 1000+rng.Float64()*50, 64+i)
		}
	}
	return b.String()
}

// BenchmarkIngest measures POST /api/v1/projects/{project}/runs over real HTTP on loopback
// into real PostgreSQL: parse, judge and store the run in one transaction (Store.Submit: compare
// with the branch's recent history, evaluate thresholds and the change-point rule, decide its
// alerts). It reports p50 and p99 latency.
func BenchmarkIngest(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("benchmarks=%d/samples=10", n), func(b *testing.B) {
			e := newEnvB(b)
			rng := rand.New(rand.NewPCG(1, 2))
			body := benchOutput(n, 10, rng)
			post := func() {
				req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/projects/sessioncore/runs?branch=main", strings.NewReader(body))
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Authorization", "Bearer "+e.token)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 201 {
					b.Fatalf("got status %d", res.StatusCode)
				}
			}
			post() // a baseline to compare with
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				post()
				lat = append(lat, time.Since(t0))
			}
			p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkIngestParallel is the sustained-ingestion load test: clients post runs of 100
// benchmarks × 10 samples concurrently over loopback for as long as the benchmark runs; it
// reports POSTs per second and fails on any non-201 reply. path=raw_copy is its floor in the
// same conditions: the same clients each insert a run row and COPY the same 200 result rows
// (summaries computed beforehand) on a raw connection and commit — no HTTP, parsing, judging
// or reply.
func BenchmarkIngestParallel(b *testing.B) {
	for _, clients := range []int{4, 16} {
		b.Run(fmt.Sprintf("clients=%d/benchmarks=100/samples=10/path=post", clients), func(b *testing.B) {
			e := newEnvB(b)
			body := benchOutput(100, 10, rand.New(rand.NewPCG(1, 2)))
			tr := &http.Transport{MaxIdleConnsPerHost: clients}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			b.SetParallelism(max(1, clients/2)) // GOMAXPROCS is 2 here: parallelism × 2 goroutines
			b.ReportAllocs()
			b.ResetTimer() // not the schema, server and pool set-up
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/projects/sessioncore/runs?branch=main", strings.NewReader(body))
					req.Header.Set("Content-Type", "text/plain")
					req.Header.Set("Authorization", "Bearer "+e.token)
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 201 {
						b.Errorf("got status %d", res.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "posts/s")
			// Memory stays flat when the heap after the run (after a GC) is about what it was
			// before: nothing accumulates per request.
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB-after")
		})
		b.Run(fmt.Sprintf("clients=%d/benchmarks=100/samples=10/path=raw_copy", clients), func(b *testing.B) {
			e := newEnvB(b)
			ctx := context.Background()
			set, err := runner.Parse(strings.NewReader(benchOutput(100, 10, rand.New(rand.NewPCG(1, 2)))), "body")
			if err != nil {
				b.Fatal(err)
			}
			first, err := e.db.Store.InsertRun(ctx, db.NewRun{Project: "sessioncore", Branch: "main", Testbed: db.Testbed{Name: "bench"}, Trigger: db.TriggerCI})
			if err != nil {
				b.Fatal(err)
			}
			cols := []string{"run_id", "name", "procs", "unit", "better", "samples", "n", "median", "ci_lo", "ci_hi"}
			rows := make([][]any, len(set.Results))
			for i, r := range set.Results {
				sum := runner.Summarize(r.Samples, runner.Options{}) // 10 samples: a finite interval
				rows[i] = []any{int64(0), r.Name, int32(r.Procs), r.Unit, int16(r.Better), r.Samples, int32(sum.N), sum.Median, sum.Lo, sum.Hi}
			}
			cfg, err := pgxpool.ParseConfig(e.db.URL)
			if err != nil {
				b.Fatal(err)
			}
			cfg.MaxConns = int32(clients)
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			b.SetParallelism(max(1, clients/2))
			b.ReportAllocs()
			b.ResetTimer() // not the schema, server and pool set-up
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				mine := make([][]any, len(rows))
				for i := range rows {
					mine[i] = slices.Clone(rows[i])
				}
				for pb.Next() {
					err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
						var id int64
						if err := tx.QueryRow(ctx, `INSERT INTO runs (project_id, branch_id, testbed_id, trigger) VALUES ($1, $2, $3, 'ci') RETURNING id`,
							first.ProjectID, first.BranchID, first.TestbedID).Scan(&id); err != nil {
							return err
						}
						for _, r := range mine {
							r[0] = id
						}
						_, err := tx.CopyFrom(ctx, pgx.Identifier{"results"}, cols, pgx.CopyFromRows(mine))
						return err
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "posts/s")
		})
	}
}
