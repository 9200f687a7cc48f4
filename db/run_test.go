package db_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/benchd/benchd/runner"
)

func TestInsertRunRoundTrip(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	nr := newRun("p", 3, 5)
	nr.IdempotencyKey = "ci-1"
	nr.Results[1].Procs = 4
	run, err := d.Store.InsertRun(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	if run.ID == 0 || run.Project != "p" || run.Branch != "main" || run.Testbed != "tb1" ||
		run.Trigger != db.TriggerCI || run.Status != db.RunDone || run.ResultCount != 3 ||
		!run.StartedAt.Equal(nr.StartedAt) || run.IdempotencyKey != "ci-1" || run.Commit != "abc123" {
		t.Errorf("got run %+v, want the fields of %+v", run, nr)
	}
	if !reflect.DeepEqual(run.Config, nr.Config) {
		t.Errorf("for config, got %v, want %v", run.Config, nr.Config)
	}
	got, err := d.Store.GetRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, run) {
		t.Errorf("GetRun: got %+v, want %+v", got, run)
	}
	res, err := d.Store.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("got %d results, want 3", len(res))
	}
	for i, r := range res {
		want := nr.Results[i]
		if !reflect.DeepEqual(r.Result, want.Result) || r.Summary.Median != want.Summary.Median ||
			r.Summary.Lo != want.Summary.Lo || r.Summary.Hi != want.Summary.Hi || r.Summary.N != want.Summary.N {
			t.Errorf("result %d: got %+v, want %+v", i, r, want)
		}
	}
	tbs, err := d.Store.ListTestbeds(ctx)
	if err != nil || len(tbs) != 1 || tbs[0].CPU != "EPYC" || tbs[0].GoVersion != "go1.26.8" {
		t.Errorf("ListTestbeds: got %+v, %v, want tb1 with its fingerprint", tbs, err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	nr := newRun("p", 2, 3)
	nr.IdempotencyKey = "ci-42"
	first, err := d.Store.InsertRun(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Store.InsertRun(ctx, nr)
	if !errors.Is(err, db.ErrConflict) {
		t.Fatalf("second insert with the same key: got %v, want ErrConflict", err)
	}
	again, err := d.Store.RunByIdempotencyKey(ctx, "p", "ci-42")
	if err != nil || again.ID != first.ID {
		t.Errorf("RunByIdempotencyKey: got run %d, %v, want run %d", again.ID, err, first.ID)
	}
	if n := count(t, d, "runs"); n != 1 {
		t.Errorf("for runs after a refused duplicate, got %d, want 1", n)
	}
	// The key is unique per project, and runs without a key never collide.
	nr.Project = "other"
	if _, err := d.Store.InsertRun(ctx, nr); err != nil {
		t.Errorf("same key in another project: got %v, want nil", err)
	}
	nr.IdempotencyKey = ""
	for range 2 {
		if _, err := d.Store.InsertRun(ctx, nr); err != nil {
			t.Errorf("run without a key: got %v, want nil", err)
		}
	}
	if _, err := d.Store.RunByIdempotencyKey(ctx, "p", "nope"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown key: got %v, want ErrNotFound", err)
	}
}

func TestNotFound(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["GetRun"] = d.Store.GetRun(ctx, 12345)
	checks["DeleteRun"] = d.Store.DeleteRun(ctx, 12345)
	_, checks["GetBaseline"] = d.Store.GetBaseline(ctx, "p", "main")
	_, checks["SetBaseline"] = d.Store.SetBaseline(ctx, "p", "main", 12345)
	checks["DeleteBaseline"] = d.Store.DeleteBaseline(ctx, "p", "main")
	_, checks["GetThreshold"] = d.Store.GetThreshold(ctx, 12345)
	_, checks["UpdateThreshold"] = d.Store.UpdateThreshold(ctx, 12345, runner.Threshold{Benchmark: "x", Kind: runner.KindUpper, Warn: 1})
	checks["DeleteThreshold"] = d.Store.DeleteThreshold(ctx, 12345)
	checks["AcknowledgeAlert"] = d.Store.AcknowledgeAlert(ctx, 12345)
	checks["ResolveAlert"] = d.Store.ResolveAlert(ctx, 12345)
	_, checks["VerifyToken"] = d.Store.VerifyToken(ctx, "bdt_nope")
	checks["RevokeToken"] = d.Store.RevokeToken(ctx, "", "nope")
	_, _, checks["CreateToken(missing project)"] = d.Store.CreateToken(ctx, "nope", "ci")
	checks["SetWebhookDeliveryJob"] = d.Store.SetWebhookDeliveryJob(ctx, "nope", 1)
	for name, err := range checks {
		if !errors.Is(err, db.ErrNotFound) {
			t.Errorf("for %s of a missing row, got %v, want ErrNotFound", name, err)
		}
	}
	// Lists of nothing are empty, not errors.
	runs, err := d.Store.ListRuns(ctx, db.RunFilter{Project: "nope"})
	if err != nil || runs == nil || len(runs) != 0 {
		t.Errorf("ListRuns of nothing: got %v, %v, want an empty slice", runs, err)
	}
	h, err := d.Store.BenchmarkHistory(ctx, db.HistoryQuery{Project: "nope", Branch: "main", Testbed: "tb1", Name: "x", Unit: "sec/op"})
	if err != nil || h == nil || len(h) != 0 {
		t.Errorf("BenchmarkHistory of nothing: got %v, %v, want an empty slice", h, err)
	}
}

func TestListRunsPages(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		nr := newRun("p", 1, 2)
		if i%2 == 1 {
			nr.Branch = "dev"
		}
		run, err := d.Store.InsertRun(ctx, nr)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, run.ID)
	}
	page1, err := d.Store.ListRuns(ctx, db.RunFilter{Project: "p", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	page2, err := d.Store.ListRuns(ctx, db.RunFilter{Project: "p", Limit: 2, Before: page1[len(page1)-1].ID})
	if err != nil {
		t.Fatal(err)
	}
	got := []int64{page1[0].ID, page1[1].ID, page2[0].ID, page2[1].ID}
	want := []int64{ids[4], ids[3], ids[2], ids[1]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("for two pages, got %v, want %v", got, want)
	}
	dev, err := d.Store.ListRuns(ctx, db.RunFilter{Project: "p", Branch: "dev"})
	if err != nil || len(dev) != 2 {
		t.Errorf("for branch dev, got %d runs, %v, want 2", len(dev), err)
	}
}

func TestBenchmarkHistory(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 6 {
		nr := newRun("p", 2, 3)
		nr.Commit = fmt.Sprintf("c%d", i)
		nr.StartedAt = t0.Add(time.Duration(i) * time.Hour)
		nr.Results[0] = result("Create/n=0", "sec/op", 3, float64(i+1))
		switch i {
		case 2:
			nr.Testbed.Name = "tb2" // another machine: not in the series
		case 3:
			nr.Status = db.RunFailed // not done: not in the series
		}
		if _, err := d.Store.InsertRun(ctx, nr); err != nil {
			t.Fatal(err)
		}
	}
	h, err := d.Store.BenchmarkHistory(ctx, db.HistoryQuery{Project: "p", Branch: "main", Testbed: "tb1",
		Name: "Create/n=0", Unit: "sec/op", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var commits []string
	for _, p := range h {
		commits = append(commits, p.Commit)
	}
	if want := []string{"c1", "c4", "c5"}; !reflect.DeepEqual(commits, want) {
		t.Errorf("for the 3 newest points, got commits %v, want %v (oldest first)", commits, want)
	}
	if p := h[2]; p.Median < 6 || p.Median > 6.12 || p.N != 3 || p.Lo > p.Median || p.Hi < p.Median || !p.StartedAt.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("for the newest point, got %+v, want a median in [6, 6.12] of 3 samples at %v", p, t0.Add(5*time.Hour))
	}
}

func TestListBenchmarks(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	old := newRun("p", 3, 2)
	old.StartedAt = old.StartedAt.Add(-time.Hour)
	old.Results[2].Name = "Gone"
	for _, nr := range []db.NewRun{old, newRun("p", 2, 2)} {
		if _, err := d.Store.InsertRun(ctx, nr); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.Store.ListBenchmarks(ctx, "p", "main", "tb1", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []db.Benchmark{{Name: "Create/n=0", Unit: "sec/op", Better: runner.LowerBetter, Runs: 1},
		{Name: "Create/n=1", Unit: "sec/op", Better: runner.LowerBetter, Runs: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("for the newest run, got %+v, want %+v", got, want)
	}
	got, err = d.Store.ListBenchmarks(ctx, "p", "main", "tb1", 0)
	if err != nil || len(got) != 3 || got[0].Runs != 2 || got[2].Name != "Gone" {
		t.Errorf("for all runs, got %+v, %v, want 3 benchmarks with Create/n=0 in 2 runs", got, err)
	}
}

func TestInsertRunRefusesDuplicateResults(t *testing.T) {
	d := dbtest.Schema(t)
	nr := newRun("p", 2, 3)
	nr.Results[1].Name = nr.Results[0].Name
	if _, err := d.Store.InsertRun(context.Background(), nr); !errors.Is(err, db.ErrInvalid) {
		t.Errorf("got %v, want ErrInvalid", err)
	}
}

func TestEnsureTestbedUpdatesFingerprint(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	a, err := d.Store.EnsureTestbed(ctx, db.Testbed{Name: "m", GOOS: "linux", CPU: "old"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Store.EnsureTestbed(ctx, db.Testbed{Name: "m", CPU: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != a.ID || b.GOOS != "linux" || b.CPU != "new" {
		t.Errorf("got %+v, want the same testbed with GOOS kept and CPU replaced", b)
	}
	br, err := d.Store.EnsureBranch(ctx, "p", "main")
	if err != nil {
		t.Fatal(err)
	}
	br2, err := d.Store.EnsureBranch(ctx, "p", "main")
	if err != nil || br2.ID != br.ID {
		t.Errorf("EnsureBranch twice: got %d, %v, want %d", br2.ID, err, br.ID)
	}
	if _, err := d.Store.EnsureProject(ctx, ""); !errors.Is(err, db.ErrInvalid) {
		t.Errorf("EnsureProject(\"\"): got %v, want ErrInvalid", err)
	}
}
