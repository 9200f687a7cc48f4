package db_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/db/dbtest"
	"github.com/benchd/benchd/runner"
)

// TestInsertRunWithVerdicts stores a run with a judgement given to InsertRun (as an import
// does) — its baseline and a verdict per result — and reads them back; then a run judged by
// Submit, whose regression is stored with its verdict and alert; a run Submit refuses leaves
// nothing stored, its alert change included.
func TestInsertRunWithVerdicts(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	first, err := d.Store.InsertRun(ctx, newRun("p", 2, 5))
	if err != nil {
		t.Fatal(err)
	}
	if first.Baseline != nil {
		t.Errorf("for a run stored without a judgement, got baseline %+v, want nil", first.Baseline)
	}
	nr := newRun("p", 2, 5)
	nr.StartedAt = nr.StartedAt.Add(time.Hour)
	nr.Baseline = &db.RunBaseline{RunID: first.ID, Source: "history:main", Label: fmt.Sprintf("history of main (run %d)", first.ID), Commit: "abc123"}
	reg := runner.Verdict{Name: "Create/n=1", Unit: "sec/op", Status: runner.StatusRegressed, Rule: "regression",
		Value: 2e-6, Baseline: 1e-6, Limit: 5, Delta: 1, P: 0.004, Note: "worse"}
	ok := runner.Verdict{Name: "Create/n=0", Unit: "sec/op", Status: runner.StatusOK, Value: 1e-6, Baseline: 1e-6, P: 0.7}
	nr.Results[0].Verdict, nr.Results[1].Verdict = &ok, &reg
	run, err := d.Store.InsertRun(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	if run.Baseline == nil || *run.Baseline != *nr.Baseline {
		t.Errorf("got baseline %+v, want %+v", run.Baseline, nr.Baseline)
	}
	got, err := d.Store.GetRun(ctx, run.ID)
	if err != nil || got.Baseline == nil || *got.Baseline != *nr.Baseline {
		t.Errorf("for GetRun, got baseline %+v (%v), want %+v", got.Baseline, err, nr.Baseline)
	}
	rs, err := d.Store.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []runner.Verdict{ok, reg}
	want[0].Value, want[1].Value = rs[0].Summary.Median, rs[1].Summary.Median // Value is the stored median
	for i, r := range rs {
		if r.Verdict == nil || !reflect.DeepEqual(*r.Verdict, want[i]) {
			t.Errorf("for result %s, got verdict %+v, want %+v", r.Name, r.Verdict, want[i])
		}
	}
	if as, err := d.Store.ListAlerts(ctx, db.AlertFilter{RunID: run.ID}); err != nil || len(as) != 0 {
		t.Errorf("for a run InsertRun stored, got alerts %+v (%v), want none (InsertRun judges nothing)", as, err)
	}

	// Submit judges a third run, Create/n=1 twice as slow, against the two before it.
	sub := submissionOf(newRun("p", 2, 5))
	sub.StartedAt = sub.StartedAt.Add(2 * time.Hour)
	sub.Thresholds = []runner.Threshold{{Benchmark: ".*", Kind: runner.KindRegression, Warn: 5}}
	scaleSamples(&sub.Results[1], 2)
	j, err := d.Store.Submit(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	if j.Baseline == nil || j.Baseline.Source != "history:main" || j.Baseline.RunID != run.ID {
		t.Errorf("got baseline %+v, want the history of main, newest run %d", j.Baseline, run.ID)
	}
	if len(j.Alerts) != 1 || j.Alerts[0].Action != runner.AlertOpen || j.Alerts[0].Name != "Create/n=1" || j.Alerts[0].Rule != "regression" {
		t.Fatalf("got alert changes %+v, want the regression of Create/n=1 opened", j.Alerts)
	}
	alertID := j.Alerts[0].ID
	if got, err := d.Store.GetRun(ctx, j.Run.ID); err != nil || got.Baseline == nil || *got.Baseline != *j.Baseline {
		t.Errorf("for GetRun of the submitted run, got baseline %+v (%v), want %+v", got.Baseline, err, j.Baseline)
	}
	rs, err = d.Store.Results(ctx, j.Run.ID)
	if err != nil || len(rs) != 2 {
		t.Fatalf("got results %+v (%v), want 2", rs, err)
	}
	for i, r := range rs {
		w := j.Verdicts[i]
		w.Against, w.Better = "", 0 // not stored with the result: the run's baseline names it
		if r.Verdict == nil || !reflect.DeepEqual(*r.Verdict, w) {
			t.Errorf("for result %s, got stored verdict %+v, want Submit's %+v", r.Name, r.Verdict, w)
		}
	}
	if v := j.Verdicts[1]; v.Status != runner.StatusRegressed || v.Against != j.Baseline.Label {
		t.Errorf("got verdict %+v, want a regression against %q", v, j.Baseline.Label)
	}
	as, err := d.Store.ListAlerts(ctx, db.AlertFilter{RunID: j.Run.ID})
	if err != nil || len(as) != 1 || as[0].ID != alertID || as[0].BaselineRunID != run.ID || as[0].Benchmark != "Create/n=1" {
		t.Errorf("got alerts %+v (%v), want the regression against run %d", as, err, run.ID)
	}
	h, err := d.Store.BenchmarkHistory(ctx, db.HistoryQuery{Project: "p", Branch: "main", Testbed: "tb1", Name: "Create/n=1", Unit: "sec/op"})
	if err != nil || len(h) != 3 || h[0].Status != "" || h[0].P != 1 || h[1].Status != "regressed" || h[1].P != 0.004 || h[1].Delta != 1 ||
		h[2].Status != "regressed" || h[2].P != j.Verdicts[1].P || h[2].Delta != j.Verdicts[1].Delta {
		t.Errorf("got history %+v (%v), want an unjudged point, then the two regressions with p and delta", h, err)
	}
	if len(h) == 3 {
		got, err := d.Store.AlertsOfResults(ctx, []int64{h[0].ResultID, h[1].ResultID, h[2].ResultID})
		if err != nil || len(got) != 1 || got[0].ID != alertID || got[0].RunID != j.Run.ID || got[0].Rule != "regression" || got[0].P != j.Verdicts[1].P {
			t.Errorf("for the alerts of the history's results, got %+v (%v), want alert %d of run %d", got, err, alertID, j.Run.ID)
		}
	}
	if got, err := d.Store.AlertsOfResults(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("for the alerts of no results, got %+v (%v), want none", got, err)
	}

	// A run the database refuses (a result twice) while its regression would update the
	// alert: nothing of the run is stored, the alert is unchanged.
	before := count(t, d, "runs")
	bad := sub
	bad.StartedAt = bad.StartedAt.Add(time.Hour)
	bad.Results = append(slices.Clone(sub.Results), sub.Results[1])
	if _, err := d.Store.Submit(ctx, bad); !errors.Is(err, db.ErrInvalid) {
		t.Errorf("for a run with a result twice, got %v, want ErrInvalid", err)
	}
	if n := count(t, d, "runs"); n != before {
		t.Errorf("after a refused run, got %d runs, want %d", n, before)
	}
	if as, err := d.Store.ListAlerts(ctx, db.AlertFilter{Project: "p"}); err != nil || len(as) != 1 || as[0].Runs != 1 || as[0].LastRunID != j.Run.ID {
		t.Errorf("after a refused run, got alerts %+v (%v), want alert %d as run %d left it", as, err, alertID, j.Run.ID)
	}
}

// TestLatestRunAndOpenAlerts checks the latest-run lookup (the newest done run with results,
// by start time, below an id) and which alerts of a series a submitted run sees as open: an
// active or acknowledged alert of its branch is updated by a run that still shows the change;
// a resolved one, or one of another branch, is not (the run opens an alert of its own).
func TestLatestRunAndOpenAlerts(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	var ids []int64
	for i := range 3 {
		nr := newRun("p", 1, 5)
		nr.StartedAt = nr.StartedAt.Add(time.Duration(i) * time.Hour)
		r, err := d.Store.InsertRun(ctx, nr)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	empty := newRun("p", 0, 0) // no results: never a baseline
	empty.StartedAt = empty.StartedAt.Add(5 * time.Hour)
	if _, err := d.Store.InsertRun(ctx, empty); err != nil {
		t.Fatal(err)
	}
	check := func(branch string, before, want int64, wantErr error) {
		t.Helper()
		got, err := d.Store.LatestRunWithResults(ctx, "p", branch, "tb1", before)
		if got != want || !errors.Is(err, wantErr) {
			t.Errorf("for the latest run of %s before %d, got %d (%v), want %d (%v)", branch, before, got, err, want, wantErr)
		}
	}
	check("main", 0, ids[2], nil)
	check("main", ids[2], ids[1], nil)
	check("main", ids[0], 0, db.ErrNotFound)
	check("dev", 0, 0, db.ErrNotFound)

	// Every later run is Create/n=0 twice as slow as run 0, the baseline named "main" and "dev".
	for _, name := range []string{"main", "dev"} {
		if _, err := d.Store.SetBaseline(ctx, "p", name, ids[0]); err != nil {
			t.Fatal(err)
		}
	}
	hour := 5
	slower := func(branch string) db.Judged {
		t.Helper()
		hour++
		sub := submissionOf(newRun("p", 1, 5))
		sub.Branch, sub.StartedAt = branch, sub.StartedAt.Add(time.Duration(hour)*time.Hour)
		sub.Thresholds = []runner.Threshold{{Benchmark: ".*", Kind: runner.KindRegression, Warn: 5}}
		scaleSamples(&sub.Results[0], 2)
		j, err := d.Store.Submit(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		if len(j.Alerts) != 1 {
			t.Fatalf("for a slower run of %s, got alert changes %+v, want one", branch, j.Alerts)
		}
		return j
	}
	a1 := slower("main").Alerts[0]
	if a1.Action != runner.AlertOpen {
		t.Errorf("the first slower run: got %+v, want an alert opened", a1)
	}
	if err := d.Store.ResolveAlert(ctx, a1.ID); err != nil {
		t.Fatal(err)
	}
	a2 := slower("main").Alerts[0]
	if a2.Action != runner.AlertOpen || a2.ID == a1.ID {
		t.Errorf("after alert %d was resolved: got %+v, want a new alert opened", a1.ID, a2)
	}
	if err := d.Store.AcknowledgeAlert(ctx, a2.ID); err != nil {
		t.Fatal(err)
	}
	if got := slower("main").Alerts[0]; got.Action != runner.AlertUpdate || got.ID != a2.ID {
		t.Errorf("with alert %d acknowledged: got %+v, want it updated", a2.ID, got)
	}
	if got := slower("dev").Alerts[0]; got.Action != runner.AlertOpen || got.ID == a2.ID {
		t.Errorf("on another branch: got %+v, want an alert of its own opened, not alert %d updated", got, a2.ID)
	}
	open, err := d.Store.ListAlerts(ctx, db.AlertFilter{Project: "p", Branch: "main", Status: db.AlertAcknowledged})
	if err != nil || len(open) != 1 || open[0].ID != a2.ID || open[0].Runs != 2 {
		t.Errorf("got acknowledged alerts of main %+v (%v), want alert %d seen by 2 runs", open, err, a2.ID)
	}
}

// TestTrends checks the dashboard's trend lines: every benchmark's medians over the newest
// runs up to a run, oldest first.
func TestTrends(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	var runs []db.Run
	for i := range 5 {
		nr := newRun("p", 2, 3)
		nr.StartedAt = nr.StartedAt.Add(time.Duration(i) * time.Hour)
		for k := range nr.Results {
			nr.Results[k].Summary.Median = float64(10*k + i)
			nr.Results[k].Summary.Lo, nr.Results[k].Summary.Hi = -1, 100
		}
		r, err := d.Store.InsertRun(ctx, nr)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	got, err := d.Store.Trends(ctx, runs[3], 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []db.Trend{{Name: "Create/n=0", Unit: "sec/op", Medians: []float64{1, 2, 3}}, {Name: "Create/n=1", Unit: "sec/op", Medians: []float64{11, 12, 13}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("for the trends of 3 runs up to the 4th, got %+v, want %+v", got, want)
	}
}

// TestTrendsPlanUsesIndexes checks, on 10,000 runs of 20 results, that the trend query walks
// runs_series_idx for the newest runs and probes each run's results through the unique
// (run_id, name, unit) index: no table is scanned whole. docs/data.md shows the plan.
func TestTrendsPlanUsesIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 10,000 runs")
	}
	d := dbtest.Schema(t)
	fillHistory(t, d, 10000, 20)
	ctx := context.Background()
	latest, err := d.Store.ListRuns(ctx, db.RunFilter{Project: "p", Branch: "main", Testbed: "tb1", Limit: 1})
	if err != nil || len(latest) != 1 {
		t.Fatalf("finding the latest run: %v", err)
	}
	r := latest[0]
	text := explain(t, d, generatedSQL(t, "internal/dbsqlc/result.sql.go", "resultMediansOfLatestRuns", "ResultMediansOfLatestRuns"),
		r.ProjectID, r.BranchID, r.TestbedID, r.ID, 20)
	t.Logf("plan:\n%s", text)
	if !strings.Contains(text, "runs_series_idx") || !strings.Contains(text, "results_run_id_name_unit_key") {
		t.Errorf("the plan does not walk runs_series_idx and probe results_run_id_name_unit_key")
	}
	if strings.Contains(text, "Seq Scan on results") || strings.Contains(text, "Seq Scan on runs") {
		t.Errorf("the plan scans a whole table")
	}
	text = explain(t, d, generatedSQL(t, "internal/dbsqlc/run.sql.go", "runLatestWithResults", "RunLatestWithResults"), "p", "main", "tb1", nil)
	t.Logf("plan:\n%s", text)
	if !strings.Contains(text, "runs_series_idx") || strings.Contains(text, "Seq Scan on results") || strings.Contains(text, "Seq Scan on runs") {
		t.Errorf("the latest-run plan does not walk runs_series_idx, or scans a whole table")
	}
}

// TestIntervalNotComputedIsNull: a result with fewer than 6 samples has no 95% CI (runner gives
// ±Inf); it is stored as NULL, not invented, and read back as -Inf, +Inf.
func TestIntervalNotComputedIsNull(t *testing.T) {
	d := dbtest.Schema(t)
	ctx := context.Background()
	nr := newRun("p", 2, 3)
	for i := range nr.Results {
		nr.Results[i].Summary = runner.Summarize(nr.Results[i].Samples, runner.Options{})
	}
	if !math.IsInf(nr.Results[0].Summary.Lo, -1) {
		t.Fatalf("runner gave %+v for 3 samples, want no interval (-Inf)", nr.Results[0].Summary)
	}
	nr.Results[1].Samples = append(nr.Results[1].Samples, 1, 2, 3, 4, 5) // 8 samples: an interval
	nr.Results[1].Summary = runner.Summarize(nr.Results[1].Samples, runner.Options{})
	run, err := d.Store.InsertRun(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	var nulls int
	if err := dbtest.Conn(t, d.URL).QueryRow(ctx, "SELECT count(*) FROM results WHERE ci_lo IS NULL AND ci_hi IS NULL").Scan(&nulls); err != nil || nulls != 1 {
		t.Errorf("got %d results with a NULL interval (%v), want 1", nulls, err)
	}
	rs, err := d.Store.Results(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := rs[0].Summary; !math.IsInf(s.Lo, -1) || !math.IsInf(s.Hi, 1) || s.Median != nr.Results[0].Summary.Median {
		t.Errorf("for 3 samples, read back %+v, want the median and -Inf, +Inf", s)
	}
	if s := rs[1].Summary; math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) || s.Lo > s.Median || s.Hi < s.Median {
		t.Errorf("for 8 samples, read back %+v, want a finite interval around the median", s)
	}
	h, err := d.Store.BenchmarkHistory(ctx, db.HistoryQuery{Project: "p", Branch: "main", Testbed: "tb1", Name: rs[0].Name, Unit: rs[0].Unit})
	if err != nil || len(h) != 1 || !math.IsInf(h[0].Lo, -1) || !math.IsInf(h[0].Hi, 1) {
		t.Errorf("for the history of 3 samples, got %+v (%v), want -Inf, +Inf bounds", h, err)
	}
}
