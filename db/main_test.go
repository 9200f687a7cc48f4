package db_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/benchd/benchd/runner"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// result returns a result with n samples around base, summarised (median, min..max as CI).
func result(name, unit string, n int, base float64) db.NewResult {
	samples := make([]float64, n)
	for i := range samples {
		samples[i] = base * (1 + float64(i%5)/100)
	}
	return db.NewResult{
		Result:  runner.Result{Name: name, Unit: unit, Better: runner.LowerBetter, Samples: samples},
		Summary: summarise(samples),
	}
}

func summarise(samples []float64) runner.Summary {
	s := slices.Clone(samples)
	slices.Sort(s)
	if len(s) == 0 {
		return runner.Summary{}
	}
	return runner.Summary{Median: s[len(s)/2], Lo: s[0], Hi: s[len(s)-1], N: len(s)}
}

// newRun returns a run of nResults results × nSamples samples on project p, branch main.
func newRun(p string, nResults, nSamples int) db.NewRun {
	nr := db.NewRun{
		Project: p, Branch: "main", Commit: "abc123", Trigger: db.TriggerCI, Suite: "quick",
		Testbed:   db.Testbed{Name: "tb1", GOOS: "linux", GOARCH: "amd64", CPU: "EPYC", GoVersion: "go1.26.8"},
		StartedAt: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		Config:    []runner.ConfigLine{{Key: "goos", Value: "linux"}, {Key: "pkg", Value: "example.com/x"}},
	}
	for i := range nResults {
		nr.Results = append(nr.Results, result(fmt.Sprintf("Create/n=%d", i), "sec/op", nSamples, 1e-6*float64(i+1)))
	}
	return nr
}

// count returns the number of rows of table in the schema.
func count(t *testing.T, d *dbtest.DB, table string) int {
	t.Helper()
	var n int
	if err := dbtest.Conn(t, d.URL).QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// submissionOf returns nr as a Submission for Store.Submit (its results' samples: Submit
// summarises and judges them itself).
func submissionOf(nr db.NewRun) db.Submission {
	sub := db.Submission{Project: nr.Project, Branch: nr.Branch, Testbed: nr.Testbed, Commit: nr.Commit,
		Trigger: nr.Trigger, Suite: nr.Suite, StartedAt: nr.StartedAt, FinishedAt: nr.FinishedAt, Config: nr.Config,
		IdempotencyKey: nr.IdempotencyKey}
	for _, r := range nr.Results {
		r.Samples = slices.Clone(r.Samples)
		sub.Results = append(sub.Results, r.Result)
	}
	return sub
}

// scaleSamples multiplies every sample of r by f.
func scaleSamples(r *runner.Result, f float64) {
	for i := range r.Samples {
		r.Samples[i] *= f
	}
}
