package db_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

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

// TestAlerts stores alerts the way runs raise them — through Store.Submit — and checks what
// ListAlerts returns of them, that a later run showing the same change updates its alert
// instead of opening a second one, that a refused run changes no alert, that a run back within
// limits resolves one, and the acknowledge and resolve transitions.
func TestAlerts(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	th, err := d.Store.CreateThreshold(ctx, "p", runner.Threshold{Benchmark: ".*", Kind: runner.KindRegression, Warn: 5})
	if err != nil {
		t.Fatal(err)
	}
	// Create/n=2's median is 3.06e-6 in a normal run, 3.15e-6 in a worse one (3% slower: not a regression).
	up, err := d.Store.CreateThreshold(ctx, "p", runner.Threshold{Benchmark: "^Create/n=2$", Unit: "sec/op", Kind: runner.KindUpper, Warn: 3.1e-6})
	if err != nil {
		t.Fatal(err)
	}
	at := func(hour int) db.Submission {
		sub := submissionOf(newRun("p", 3, 5))
		sub.StartedAt = sub.StartedAt.Add(time.Duration(hour) * time.Hour)
		return sub
	}
	worse := func(hour int) db.Submission { // Create/n=0 twice as slow, Create/n=2 above its limit
		sub := at(hour)
		scaleSamples(&sub.Results[0], 2)
		scaleSamples(&sub.Results[2], 1.03)
		return sub
	}
	first := at(0)
	first.SaveBaseline = "main" // later runs of main are compared with it
	base, err := d.Store.Submit(ctx, first)
	if err != nil || len(base.Alerts) != 0 {
		t.Fatalf("the first run: got %+v, %v, want no alert", base.Alerts, err)
	}
	run, err := d.Store.Submit(ctx, worse(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Alerts) != 2 || run.Alerts[0].Action != runner.AlertOpen || run.Alerts[1].Action != runner.AlertOpen {
		t.Fatalf("the worse run's alert changes: got %+v, want two opened", run.Alerts)
	}
	list, err := d.Store.ListAlerts(ctx, db.AlertFilter{Project: "p", Status: db.AlertActive})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListAlerts: got %d, %v, want 2", len(list), err)
	}
	a, u := list[1], list[0] // oldest last
	if a.ID != run.Alerts[0].ID || a.Benchmark != "Create/n=0" || a.RunID != run.Run.ID || a.BaselineRunID != base.Run.ID ||
		a.Rule != "regression" || math.Abs(a.Value-2.04e-6) > 1e-15 || math.Abs(a.Baseline-1.02e-6) > 1e-15 || a.Limit != 5 || math.Abs(a.Delta-1) > 1e-9 ||
		a.P <= 0 || a.P >= 0.05 || a.Branch != "main" || a.Testbed != "tb1" || a.Commit != "abc123" || a.Better != runner.LowerBetter ||
		a.LastGoodRunID != base.Run.ID || a.LastRunID != run.Run.ID || a.Runs != 1 || a.LatestValue != a.Value || a.Status != db.AlertActive {
		t.Errorf("got %+v, want the regression alert of run %d against run %d", a, run.Run.ID, base.Run.ID)
	}
	if u.Benchmark != "Create/n=2" || u.Rule != "upper" || u.Limit != 3.1e-6 || u.RunID != run.Run.ID {
		t.Errorf("got %+v, want the upper-limit alert of Create/n=2", u)
	}
	if a.ThresholdID != th.ID || u.ThresholdID != up.ID {
		t.Errorf("for the alerts' rules, got thresholds %d and %d, want the stored rules that fired, %d and %d", a.ThresholdID, u.ThresholdID, th.ID, up.ID)
	}

	// The same change in a later run: both alerts are updated, none is opened twice.
	again, err := d.Store.Submit(ctx, worse(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Alerts) != 2 || again.Alerts[0] != (db.AlertChange{ID: a.ID, Action: runner.AlertUpdate, Name: "Create/n=0", Unit: "sec/op", Rule: "regression"}) ||
		again.Alerts[1].ID != u.ID || again.Alerts[1].Action != runner.AlertUpdate {
		t.Errorf("the same change again: got alert changes %+v, want alerts %d and %d updated", again.Alerts, a.ID, u.ID)
	}
	list, err = d.Store.ListAlerts(ctx, db.AlertFilter{Project: "p", Status: db.AlertActive})
	if err != nil || len(list) != 2 || list[1].ID != a.ID || list[1].RunID != run.Run.ID || list[1].LastRunID != again.Run.ID || list[1].Runs != 2 {
		t.Fatalf("after the same change again: got %+v, %v, want the 2 alerts, first seen in run %d, last in run %d", list, err, run.Run.ID, again.Run.ID)
	}
	if got, err := d.Store.ListAlerts(ctx, db.AlertFilter{RunID: again.Run.ID}); err != nil || len(got) != 2 {
		t.Errorf("the alerts run %d last updated: got %d, %v, want 2", again.Run.ID, len(got), err)
	}

	// A run refused after its judgement (its baseline name is too long) changes no alert.
	runs := count(t, d, "runs")
	bad := worse(3)
	bad.SaveBaseline = strings.Repeat("x", 201)
	if _, err := d.Store.Submit(ctx, bad); !errors.Is(err, db.ErrInvalid) {
		t.Errorf("a run with a baseline name of 201 bytes: got %v, want ErrInvalid", err)
	}
	if n := count(t, d, "runs"); n != runs {
		t.Errorf("after a refused run, got %d runs, want %d", n, runs)
	}
	if list, _ := d.Store.ListAlerts(ctx, db.AlertFilter{Project: "p"}); len(list) != 2 || list[1].Runs != 2 || list[1].LastRunID != again.Run.ID {
		t.Errorf("after a refused run, got alerts %+v, want them as the last stored run left them", list)
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
	if err != nil || len(resolved) != 1 || resolved[0].AcknowledgedAt.IsZero() || resolved[0].ResolvedAt.IsZero() || resolved[0].ResolvedRunID != 0 {
		t.Errorf("resolved alerts: got %+v, %v, want one with both times and no resolving run", resolved, err)
	}

	// A run back within the limit resolves the upper-limit alert.
	fine, err := d.Store.Submit(ctx, at(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(fine.Alerts) != 1 || fine.Alerts[0].ID != u.ID || fine.Alerts[0].Action != runner.AlertResolve {
		t.Errorf("a run back within limits: got alert changes %+v, want alert %d resolved", fine.Alerts, u.ID)
	}
	if got, err := d.Store.ListAlerts(ctx, db.AlertFilter{RunID: fine.Run.ID}); err != nil || len(got) != 1 || got[0].ID != u.ID ||
		got[0].Status != db.AlertResolved || got[0].ResolvedRunID != fine.Run.ID || got[0].LastRunID != again.Run.ID {
		t.Errorf("the alerts run %d resolved: got %+v, %v, want alert %d resolved by it", fine.Run.ID, got, err, u.ID)
	}

	if err := d.Store.DeleteThreshold(ctx, th.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.Store.ListAlerts(ctx, db.AlertFilter{RunID: run.Run.ID}); len(list) != 2 || list[1].ID != a.ID || list[1].ThresholdID != 0 {
		t.Errorf("after deleting its rule, got %+v, want the alert kept without a threshold", list)
	}
}
