package db_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/benchd/benchd/runner"
)

func TestBaselines(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	r1, err := d.Store.InsertRun(ctx, newRun("p", 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := d.Store.InsertRun(ctx, newRun("p", 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	other, err := d.Store.InsertRun(ctx, newRun("q", 1, 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store.SetBaseline(ctx, "p", "main", r1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store.SetBaseline(ctx, "p", "main", r2.ID); err != nil {
		t.Fatal(err)
	}
	b, err := d.Store.GetBaseline(ctx, "p", "main")
	if err != nil || b.RunID != r2.ID {
		t.Errorf("GetBaseline after moving it: got %+v, %v, want run %d", b, err, r2.ID)
	}
	if _, err := d.Store.SetBaseline(ctx, "p", "x", other.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("baseline to another project's run: got %v, want ErrNotFound", err)
	}
	if _, err := d.Store.SetBaseline(ctx, "p", "v1", r1.ID); err != nil {
		t.Fatal(err)
	}
	list, err := d.Store.ListBaselines(ctx, "p")
	if err != nil || len(list) != 2 || list[0].Name != "main" || list[1].Name != "v1" {
		t.Errorf("ListBaselines: got %+v, %v, want main and v1", list, err)
	}
	// Deleting the run deletes the baselines that point at it.
	if err := d.Store.DeleteRun(ctx, r1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Store.GetBaseline(ctx, "p", "v1"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("baseline of a deleted run: got %v, want ErrNotFound", err)
	}
}

func TestThresholds(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	th := runner.Threshold{Benchmark: "^Create/", Unit: "sessions/s", Kind: runner.KindLower, Warn: 1000, Note: "seed"}
	got, err := d.Store.CreateThreshold(ctx, "p", th)
	if err != nil {
		t.Fatal(err)
	}
	if got.Threshold != th || got.ID == 0 {
		t.Errorf("got %+v, want %+v", got, th)
	}
	if _, err := d.Store.CreateThreshold(ctx, "p", th); !errors.Is(err, db.ErrConflict) {
		t.Errorf("same rule twice: got %v, want ErrConflict", err)
	}
	for name, bad := range map[string]runner.Threshold{
		"kind":    {Benchmark: "x", Kind: "max", Warn: 1},
		"nan":     {Benchmark: "x", Kind: runner.KindUpper, Warn: math.NaN()},
		"inf":     {Benchmark: "x", Kind: runner.KindUpper, Warn: math.Inf(1)},
		"pattern": {Benchmark: "", Kind: runner.KindUpper, Warn: 1},
	} {
		if _, err := d.Store.CreateThreshold(ctx, "p", bad); !errors.Is(err, db.ErrInvalid) {
			t.Errorf("for a bad %s, got %v, want ErrInvalid", name, err)
		}
	}
	th.Warn = 2000
	upd, err := d.Store.UpdateThreshold(ctx, got.ID, th)
	if err != nil || upd.Warn != 2000 {
		t.Errorf("UpdateThreshold: got %+v, %v, want Warn 2000", upd, err)
	}
	list, err := d.Store.ListThresholds(ctx, "p")
	if err != nil || len(list) != 1 || list[0].Warn != 2000 {
		t.Errorf("ListThresholds: got %+v, %v, want the updated rule", list, err)
	}
	if err := d.Store.DeleteThreshold(ctx, got.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.Store.ListThresholds(ctx, "p"); len(list) != 0 {
		t.Errorf("after delete, got %d rules, want 0", len(list))
	}
}

func TestAlerts(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	base, err := d.Store.InsertRun(ctx, newRun("p", 3, 5))
	if err != nil {
		t.Fatal(err)
	}
	run, err := d.Store.InsertRun(ctx, newRun("p", 3, 5))
	if err != nil {
		t.Fatal(err)
	}
	th, err := d.Store.CreateThreshold(ctx, "p", runner.Threshold{Benchmark: ".", Kind: runner.KindRegression, Warn: 5})
	if err != nil {
		t.Fatal(err)
	}
	verdicts := []db.NewAlert{
		{Verdict: runner.Verdict{Name: "Create/n=0", Unit: "sec/op", Status: runner.StatusRegressed, Rule: "regression",
			Value: 2, Baseline: 1, Limit: 5, Delta: 1, P: 0.002, Note: "worse by 100%"}, ThresholdID: th.ID},
		{Verdict: runner.Verdict{Name: "Create/n=2", Unit: "sec/op", Status: runner.StatusWarning, Rule: "upper", Value: 3, Limit: 1, P: 1}},
	}
	ids, err := d.Store.InsertAlerts(ctx, run.ID, base.ID, verdicts)
	if err != nil || len(ids) != 2 {
		t.Fatalf("InsertAlerts: got %v, %v, want 2 ids", ids, err)
	}
	if _, err := d.Store.InsertAlerts(ctx, run.ID, base.ID, verdicts[:1]); !errors.Is(err, db.ErrConflict) {
		t.Errorf("the same alert twice: got %v, want ErrConflict", err)
	}
	missing := []db.NewAlert{verdicts[1], {Verdict: runner.Verdict{Name: "Nope", Unit: "sec/op", Rule: "upper", P: 1}}}
	missing[0].Rule = "lower"
	if _, err := d.Store.InsertAlerts(ctx, run.ID, 0, missing); !errors.Is(err, db.ErrInvalid) {
		t.Errorf("an alert naming no result: got %v, want ErrInvalid", err)
	}
	list, err := d.Store.ListAlerts(ctx, db.AlertFilter{Project: "p", Status: db.AlertActive})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListAlerts: got %d, %v, want 2 (nothing of the refused batch)", len(list), err)
	}
	a := list[1] // oldest last
	if a.Benchmark != "Create/n=0" || a.RunID != run.ID || a.BaselineRunID != base.ID || a.ThresholdID != th.ID ||
		a.Rule != "regression" || a.Value != 2 || a.Baseline != 1 || a.P != 0.002 || a.Branch != "main" {
		t.Errorf("got %+v, want the regression alert as inserted", a)
	}
	if err := d.Store.AcknowledgeAlert(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Store.AcknowledgeAlert(ctx, a.ID); !errors.Is(err, db.ErrConflict) {
		t.Errorf("acknowledging twice: got %v, want ErrConflict", err)
	}
	if err := d.Store.ResolveAlert(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Store.ResolveAlert(ctx, a.ID); !errors.Is(err, db.ErrConflict) {
		t.Errorf("resolving twice: got %v, want ErrConflict", err)
	}
	resolved, err := d.Store.ListAlerts(ctx, db.AlertFilter{Status: db.AlertResolved})
	if err != nil || len(resolved) != 1 || resolved[0].AcknowledgedAt.IsZero() || resolved[0].ResolvedAt.IsZero() {
		t.Errorf("resolved alerts: got %+v, %v, want one with both times", resolved, err)
	}
	if err := d.Store.DeleteThreshold(ctx, th.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.Store.ListAlerts(ctx, db.AlertFilter{RunID: run.ID}); len(list) != 2 || list[1].ThresholdID != 0 {
		t.Errorf("after deleting its rule, got %+v, want the alert kept without a threshold", list)
	}
}
