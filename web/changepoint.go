package web

import (
	"context"
	"errors"
	"fmt"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// changePointWindow is how many runs of a series the change-point rule looks at, and
// changePointRecent how recent (in runs) a shift must start to raise an alert: the test needs
// about six runs at the new level before a shift is significant.
const (
	changePointWindow = 30
	changePointRecent = 8
)

// ChangePointAlerts runs the change-point rule for the series run belongs to (its project,
// branch and testbed): for every benchmark/unit of run, the medians of the latest runs up to
// run are searched for level shifts (runner's E-Divisive, at least 5% and significant); a
// shift for the worse starting within the last changePointRecent runs raises a "changepoint" alert on
// the run where the new level starts (once: a stored alert is not repeated). It returns the
// ids of the alerts stored. The worker calls it after each run (job kind benchd_changepoints),
// since it reads up to 30 runs and is too slow for the POST path.
func (g *Ingester) ChangePointAlerts(ctx context.Context, runID int64) ([]int64, error) {
	run, err := g.store.GetRun(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("reading run %d: %w", runID, err)
	}
	runs, err := g.store.ListRuns(ctx, db.RunFilter{Project: run.Project, Branch: run.Branch, Testbed: run.Testbed, Before: run.ID + 1, Limit: changePointWindow})
	if err != nil {
		return nil, fmt.Errorf("listing runs before %d: %w", runID, err)
	}
	// Oldest first, done runs only.
	var series []db.Run
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].Status == db.RunDone {
			series = append(series, runs[i])
		}
	}
	type key struct{ name, unit string }
	type point struct {
		run    int
		median float64
	}
	hist := map[key][]point{}
	better := map[key]runner.Direction{}
	for i, r := range series {
		rs, err := g.store.Results(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("reading results of run %d: %w", r.ID, err)
		}
		for _, x := range rs {
			k := key{x.Name, x.Unit}
			hist[k] = append(hist[k], point{i, x.Summary.Median})
			better[k] = x.Better
		}
	}
	byRun := map[int64][]db.NewAlert{}
	for k, pts := range hist {
		if len(pts) == 0 || pts[len(pts)-1].run != len(series)-1 {
			continue // not measured in this run
		}
		meds := make([]float64, len(pts))
		for i, p := range pts {
			meds[i] = p.median
		}
		for _, cp := range runner.ChangePoints(meds, runner.ChangePointOptions{MinEffect: 0.05}) {
			if cp.Index < len(meds)-changePointRecent {
				continue // an older shift: alerted (or not) when it was recent
			}
			worse := (better[k] == runner.LowerBetter && cp.Delta > 0) || (better[k] == runner.HigherBetter && cp.Delta < 0)
			if !worse {
				continue
			}
			at := series[pts[cp.Index].run]
			v := runner.Verdict{Name: k.name, Unit: k.unit, Status: runner.StatusWarning, Rule: "changepoint",
				Value: cp.After, Baseline: cp.Before, Delta: cp.Delta, P: cp.P,
				Note: fmt.Sprintf("level shift of %+.1f%% from run %d (p=%.3f, %d runs)", cp.Delta*100, at.ID, cp.P, len(meds))}
			byRun[at.ID] = append(byRun[at.ID], db.NewAlert{Verdict: v})
		}
	}
	var ids []int64
	for runID, alerts := range byRun {
		for _, a := range alerts {
			got, err := g.store.InsertAlerts(ctx, runID, 0, []db.NewAlert{a})
			if errors.Is(err, db.ErrConflict) {
				continue // already raised
			}
			if err != nil {
				return ids, fmt.Errorf("storing change-point alert of run %d: %w", runID, err)
			}
			ids = append(ids, got...)
			g.log.InfoContext(ctx, "change point", "run_id", runID, "benchmark", a.Name, "unit", a.Unit, "delta", a.Delta)
		}
	}
	return ids, nil
}
