package db_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// An API handler storing a POSTed run: a retried POST with the same idempotency key answers
// with the run stored the first time. (Compiled, not run: it needs a database.)
func ExampleStore_InsertRun() {
	ctx := context.Background()
	s, err := db.Open(ctx, os.Getenv("DATABASE_URL"), nil)
	if err != nil {
		log.Fatal(err) // errors.Is(err, db.ErrStaleSchema): run `benchd migrate up`
	}
	defer s.Close()

	samples := []float64{1.2e-6, 1.1e-6, 1.3e-6}
	nr := db.NewRun{
		Project: "sessioncore", Branch: "main", Commit: "4f2a9c1",
		Testbed: db.Testbed{Name: "ci-amd64", GOOS: "linux", GOARCH: "amd64"},
		Trigger: db.TriggerCI, Suite: "quick", IdempotencyKey: "gh-run-1234-1",
		Results: []db.NewResult{{
			Result:  runner.Result{Name: "Create/n=100", Unit: "sec/op", Better: runner.LowerBetter, Samples: samples},
			Summary: runner.Summary{Median: 1.2e-6, Lo: 1.1e-6, Hi: 1.3e-6, N: 3},
		}},
	}
	run, err := s.InsertRun(ctx, nr)
	if errors.Is(err, db.ErrConflict) {
		run, err = s.RunByIdempotencyKey(ctx, nr.Project, nr.IdempotencyKey)
	}
	if err != nil {
		log.Fatal(err) // errors.Is(err, db.ErrInvalid): the request carried bad data
	}
	fmt.Println("stored run", run.ID, "with", run.ResultCount, "results")
}
