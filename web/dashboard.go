package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// DashboardData is what the dashboard shows for a project's branch on a testbed: the open
// regressions first — every active alert of the series, whatever the latest run's own
// comparison said — then the latest run with its verdicts. GET
// /api/v1/projects/{project}/dashboard returns it as JSON; the HTML dashboard renders it.
type DashboardData struct {
	Project string `json:"project"`
	Branch  string `json:"branch"`
	// Testbed is the one asked for, else the latest run's ("" when the branch has no runs).
	Testbed string `json:"testbed"`
	// OpenRegressions are the branch's active alerts on the testbed, newest first.
	OpenRegressions []OpenRegressionView `json:"open_regressions"`
	// Latest is the branch's newest run (nil when none), Baseline what it was compared with.
	Latest   *RunView      `json:"latest,omitempty"`
	Baseline *BaselineRef  `json:"baseline,omitempty"`
	Verdicts []VerdictView `json:"verdicts"`
	// Counts are the latest run's verdicts by status.
	Counts map[string]int `json:"counts"`
}

// OpenRegressionView is one open alert as the dashboard lists it: which series, how much
// worse (when it started and now), and the commit range in which it happened.
type OpenRegressionView struct {
	AlertID int64  `json:"alert_id"`
	Name    string `json:"name"`
	Unit    string `json:"unit"`
	Rule    string `json:"rule"`
	// Delta is the change in the newest run that showed it (0.12 = +12%); FirstDelta the
	// change when it was opened. Baseline is the value before the change, Value the newest.
	Delta      float64 `json:"delta"`
	FirstDelta float64 `json:"first_delta"`
	Baseline   float64 `json:"baseline"`
	Value      float64 `json:"value"`
	Limit      float64 `json:"limit,omitempty"`
	// FirstBadRunID/FirstBadCommit is the first run that showed it; LastGoodRunID/
	// LastGoodCommit the series' run before it (0/"" when none): the commit range is
	// last_good_commit..first_bad_commit.
	FirstBadRunID  int64  `json:"first_bad_run_id"`
	FirstBadCommit string `json:"first_bad_commit"`
	LastGoodRunID  int64  `json:"last_good_run_id,omitempty"`
	LastGoodCommit string `json:"last_good_commit,omitempty"`
	// LastRunID is the newest run that still showed it; Runs how many runs did.
	LastRunID int64  `json:"last_run_id"`
	Runs      int    `json:"runs"`
	Note      string `json:"note"`
	// Against names what the first bad run was judged against ("" when nothing: a static
	// limit or a change point alone).
	Against string `json:"against,omitempty"`
	// Link is the benchmark page of the series.
	Link string `json:"link"`
}

// dashboardData loads the dashboard of project's branch on testbed ("" = the latest run's).
func (s *Server) dashboardData(ctx context.Context, project, branch, testbed string) (*DashboardData, error) {
	d := &DashboardData{Project: project, Branch: branch, Testbed: testbed, OpenRegressions: []OpenRegressionView{},
		Verdicts: []VerdictView{}, Counts: map[string]int{}}
	runs, err := s.store.ListRuns(ctx, db.RunFilter{Project: project, Branch: branch, Testbed: testbed, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(runs) > 0 {
		run := runs[0]
		d.Testbed = run.Testbed
		rv := s.runView(run)
		d.Latest = &rv
		results, err := s.store.Results(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		verdicts, ref := storedJudgement(run, results)
		d.Baseline = ref
		for _, v := range verdicts {
			d.Verdicts = append(d.Verdicts, verdictView(v))
			d.Counts[string(v.Status)]++
		}
	}
	if d.Testbed == "" {
		return d, nil
	}
	alerts, err := s.store.ListAlerts(ctx, db.AlertFilter{Project: project, Branch: branch, Testbed: d.Testbed,
		Status: db.AlertActive, Limit: 1000})
	if err != nil {
		return nil, err
	}
	for _, a := range alerts {
		d.OpenRegressions = append(d.OpenRegressions, OpenRegressionView{AlertID: a.ID, Name: a.Benchmark, Unit: a.Unit,
			Rule: a.Rule, Delta: a.LatestDelta, FirstDelta: a.Delta, Baseline: a.Baseline, Value: a.LatestValue, Limit: a.Limit,
			FirstBadRunID: a.RunID, FirstBadCommit: a.Commit, LastGoodRunID: a.LastGoodRunID, LastGoodCommit: a.LastGoodCommit,
			LastRunID: a.LastRunID, Runs: a.Runs, Note: a.Note, Against: a.BaselineLabel, Link: benchmarkLink(project, branch, d.Testbed, a.Benchmark, a.Unit)})
	}
	return d, nil
}

// getDashboard is GET /api/v1/projects/{project}/dashboard?branch=&testbed= (branch
// defaults to main, testbed to the latest run's).
func (s *Server) getDashboard(c echo.Context) error {
	project, err := s.project(c)
	if err != nil {
		return err
	}
	branch := c.QueryParam("branch")
	if branch == "" {
		branch = db.DefaultBranch
	}
	d, err := s.dashboardData(c.Request().Context(), project, branch, c.QueryParam("testbed"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

// openRegressions is the HTML dashboard's view of d's open regressions: the same alerts, with
// their figures in human units (runner.ScaleOf, the one formatter).
func openRegressions(d *DashboardData) []OpenRegression {
	out := make([]OpenRegression, 0, len(d.OpenRegressions))
	for _, o := range d.OpenRegressions {
		sc := runner.ScaleOf(o.Unit, o.Value, o.Baseline)
		r := OpenRegression{AlertID: o.AlertID, Benchmark: o.Name, Unit: o.Unit, Link: o.Link,
			Size: fmt.Sprintf("%+.1f%%", 100*o.Delta), Value: sc.Format(o.Value), Baseline: sc.Format(o.Baseline),
			FirstBad: o.FirstBadRunID, LastGood: o.LastGoodRunID, FromCommit: runner.ShortCommit(o.LastGoodCommit),
			ToCommit: runner.ShortCommit(o.FirstBadCommit), Status: "regressed"}
		if o.Rule != "regression" && o.Rule != "changepoint" {
			r.Status = "warning"
		}
		r.BaselineName = o.Against
		out = append(out, r)
	}
	return out
}
