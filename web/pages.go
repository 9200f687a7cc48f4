package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// Pages are public (read-only); every handler does the same four steps: parse parameters,
// load, build the view, render.

// pageRoutes registers the HTML pages.
func (s *Server) pageRoutes() {
	e := s.echo
	e.GET("/", s.dashboardPage)
	e.GET("/runs", s.runsPage)
	e.GET("/runs/:id", s.runPage)
	e.GET("/benchmark", s.benchmarkPage)
	e.GET("/alerts", s.alertsPage)
	e.GET("/compare", s.comparePage)
	e.GET("/jobs", s.jobsPage)
	// The jobs API lives beside its page: the list, and "Run now" with the project's token.
	e.GET("/api/v1/projects/:project/jobs", s.apiJobs, s.requireToken)
	e.POST("/api/v1/projects/:project/jobs", s.apiRunNow, s.requireToken)
	e.PUT("/api/v1/projects/:project/commits/:sha", s.putCommit, s.requireToken)
	e.RouteNotFound("/*", func(c echo.Context) error {
		return errorf(http.StatusNotFound, "There is no page at %s.", c.Request().URL.Path)
	})
}

// RunPage is the view of /runs/{id}.
type RunPage struct {
	Run      RunView
	Baseline *BaselineRef
	Rows     []RunRow
	Counts   map[string]int
	// CountList is Counts worst first (regressed, warning, improved, ok, unknown).
	CountList []StatusCount
	Alerts    []AlertView
	Chart     *Chart
	Duration  string
	// Commit is what is known of the run's commit (nil when nothing is).
	Commit *db.Commit
	// Trends is true when Rows carry trend lines (the dashboard).
	Trends bool
}

// RunRow is one result of the run page's table.
type RunRow struct {
	ResultView
	// Family is the benchmark's family, its name up to the first "/" ("Create" for
	// "Create/n=100"); Group is true on the first row of a family with several members.
	Family string
	Group  bool
	// Trend is an inline SVG of the medians of the last runs (dashboard only; "" elsewhere).
	Trend    template.HTML
	Verdict  VerdictView
	Median   string
	CI       string
	Link     string
	Samples  []string
	DeltaPct string
}

// StatusCount is how many results have a verdict status.
type StatusCount struct {
	Status string
	N      int
}

// severity orders verdict statuses worst first; unknown statuses last.
func severity(status string) int {
	switch status {
	case "regressed":
		return 0
	case "warning":
		return 1
	case "improved":
		return 2
	case "ok":
		return 3
	case "unknown":
		return 4
	}
	return 5
}

// statusCounts returns counts as a list, worst status first; an empty list for no counts.
func statusCounts(counts map[string]int) []StatusCount {
	out := make([]StatusCount, 0, len(counts))
	for st, n := range counts {
		if st == "" {
			st = "not judged"
		}
		out = append(out, StatusCount{Status: st, N: n})
	}
	sort.Slice(out, func(i, j int) bool { return severity(out[i].Status) < severity(out[j].Status) })
	return out
}

// BenchmarkPage is the view of /benchmark?project=&branch=&testbed=&name=&unit=.
type BenchmarkPage struct {
	Project, Branch, Testbed, Name, Unit string
	// XAxis is "time" (run start time, the default) or "commit" (commits in run order): ?x=.
	XAxis string
	// YAxis is "linear" (the default) or "log": ?y=.
	YAxis  string
	Points []PointView
	// Rows are the table's points, newest first: the newest tableRows unless ?rows=all.
	Rows []PointView
	// More is true when Rows leaves older points out; Links are this page's URLs with the
	// other x-axis and with every row.
	More                 bool
	TimeLink, CommitLink string
	LinearLink, LogLink  string
	AllRowsLink          string
	// Overlaid are the ?overlay= branches shown.
	Overlaid []string
	Baseline *PointView
	// BaselineName is the named baseline Baseline is ("main"); "" when there is none.
	BaselineName string
	Limits       []Limit
	Alerts       []AlertView
	// Overlays are other branches' histories of the same benchmark (?overlay=BRANCH, repeatable).
	Overlays []Overlay
	// Branches lists the project's other branches, for the overlay choice.
	Branches []string
	// ChangePoints are the level shifts detected in the medians (E-Divisive, runner).
	ChangePoints []ChangePointView
	Chart        *Chart
	// alerted maps the runs with an alert of this series to the alert's status.
	alerted map[int64]string
}

// ChangePointView is a level shift of a benchmark's history, at the first run of the new level.
type ChangePointView struct {
	RunID     int64     `json:"run_id"`
	StartedAt time.Time `json:"started_at"`
	Commit    string    `json:"commit"`
	Before    float64   `json:"before"`
	After     float64   `json:"after"`
	Delta     float64   `json:"delta"`
	P         float64   `json:"p"`
}

// Overlay is another branch's history drawn over the benchmark page's chart.
type Overlay struct {
	Branch string
	Points []PointView
}

// Limit is a threshold drawn on a chart.
type Limit struct {
	Name  string
	Value float64
}

// DashboardPage is the view of /: a project's branch on a testbed, its latest run judged.
type DashboardPage struct {
	Projects []string
	Project  string
	Branch   string
	Branches []string
	Testbed  string
	Testbeds []string
	Latest   *RunPage
	// OpenRegressions are the branch's and testbed's active alerts, shown first ("Open
	// regressions"); nil shows nothing. The judgement work (issue 11, the lead) fills it.
	OpenRegressions []OpenRegression
	// Jobs are the queued and running jobs (nil when the server has no job queue).
	Jobs []JobView
	// RunNow is the "Run now" form (nil when the server has no job queue).
	RunNow *RunNowForm
}

// OpenRegression is one active alert of a branch on a testbed, as the dashboard lists it
// first: which series, how much worse, and the commit range where it changed (FirstBad is the
// first run at the new level, LastGood the run before it; 0 when unknown).
type OpenRegression struct {
	AlertID   int64
	Benchmark string
	Unit      string
	Link      string // the benchmark page
	// Size is the change as text ("+25.3%"), Value and Baseline in human units.
	Size, Value, Baseline string
	// BaselineName names what it was judged against ("main", "start of feature").
	BaselineName string
	// FirstBad and LastGood are runs (0: unknown); FromCommit and ToCommit their commits.
	FirstBad, LastGood   int64
	FromCommit, ToCommit string
	Status               string // "regressed" or "warning"
}

func (s *Server) runPage(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	run, err := s.store.GetRun(ctx, id)
	if err != nil {
		return err
	}
	v, err := s.buildRunPage(c, run)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "run", page{Nav: "runs", Charts: v.Chart != nil, Data: v})
}

// buildRunPage loads a run's results and alerts and judges it against its baseline.
func (s *Server) buildRunPage(c echo.Context, run db.Run) (*RunPage, error) {
	ctx := c.Request().Context()
	results, err := s.store.Results(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	verdicts, ref := storedJudgement(run, results)
	alerts, err := s.store.ListAlerts(ctx, db.AlertFilter{RunID: run.ID, Limit: 1000})
	if err != nil {
		return nil, err
	}
	v := &RunPage{Run: s.runView(run), Baseline: ref, Counts: map[string]int{}}
	if run.Commit != "" {
		cms, err := s.store.Commits(ctx, run.Project, []string{run.Commit})
		if err != nil {
			return nil, err
		}
		if cm, ok := cms[run.Commit]; ok {
			v.Commit = &cm
		}
	}
	if !run.FinishedAt.IsZero() && run.FinishedAt.After(run.StartedAt) {
		v.Duration = run.FinishedAt.Sub(run.StartedAt).Round(1e6).String()
	}
	vv := make([]VerdictView, len(verdicts))
	for i, r := range results {
		vd := verdictView(verdicts[i])
		vv[i] = vd
		v.Counts[vd.Status]++
		row := RunRow{ResultView: resultView(r, false), Verdict: vd,
			Median: runner.FormatValue(r.Summary.Median, r.Unit),
			CI:     fmtCI(ciView(r.Summary.Lo, r.Summary.Hi))(r.Unit),
			Link:   benchmarkLink(run.Project, run.Branch, run.Testbed, r.Name, r.Unit)}
		if vd.Baseline != 0 {
			row.DeltaPct = fmt.Sprintf("%+.1f%%", vd.Delta*100)
		}
		for _, x := range r.Samples {
			row.Samples = append(row.Samples, runner.FormatValue(x, r.Unit))
		}
		row.Family, _, _ = strings.Cut(r.Name, "/")
		v.Rows = append(v.Rows, row)
	}
	// Worst first, then by name, so a family of ok results stays together.
	sort.SliceStable(v.Rows, func(i, j int) bool {
		return severity(v.Rows[i].Verdict.Status) < severity(v.Rows[j].Verdict.Status)
	})
	v.CountList = statusCounts(v.Counts)
	for i := range v.Rows {
		first := i == 0 || v.Rows[i-1].Family != v.Rows[i].Family
		many := (i+1 < len(v.Rows) && v.Rows[i+1].Family == v.Rows[i].Family) || (i > 0 && v.Rows[i-1].Family == v.Rows[i].Family)
		v.Rows[i].Group = first && many
	}
	for _, a := range alerts {
		v.Alerts = append(v.Alerts, alertView(a))
	}
	if ch, ok := deltaChart(vv); ok {
		v.Chart = &ch
	}
	return v, nil
}

func benchmarkLink(project, branch, testbed, name, unit string) string {
	q := url.Values{"project": {project}, "branch": {branch}, "testbed": {testbed}, "name": {name}, "unit": {unit}}
	return "/benchmark?" + q.Encode()
}

func (s *Server) benchmarkPage(c echo.Context) error {
	v := &BenchmarkPage{Project: c.QueryParam("project"), Branch: c.QueryParam("branch"), Testbed: c.QueryParam("testbed"),
		Name: c.QueryParam("name"), Unit: c.QueryParam("unit"), XAxis: c.QueryParam("x"), YAxis: c.QueryParam("y"), alerted: map[int64]string{}}
	switch v.XAxis {
	case "":
		v.XAxis = "time"
	case "time", "commit":
	default:
		return &Error{Status: http.StatusBadRequest, Field: "x", Message: fmt.Sprintf("x=%q: the x-axis is time or commit", v.XAxis)}
	}
	switch v.YAxis {
	case "":
		v.YAxis = "linear"
	case "linear", "log":
	default:
		return &Error{Status: http.StatusBadRequest, Field: "y", Message: fmt.Sprintf("y=%q: the y-axis is linear or log", v.YAxis)}
	}
	for _, f := range []struct{ n, v string }{{"project", v.Project}, {"branch", v.Branch}, {"testbed", v.Testbed}, {"name", v.Name}, {"unit", v.Unit}} {
		if f.v == "" {
			return &Error{Status: http.StatusBadRequest, Field: f.n, Message: "The benchmark page needs the query parameter " + f.n + "."}
		}
	}
	ctx := c.Request().Context()
	pts, err := s.store.BenchmarkHistory(ctx, db.HistoryQuery{Project: v.Project, Branch: v.Branch, Testbed: v.Testbed, Name: v.Name, Unit: v.Unit, Limit: 1000})
	if err != nil {
		return err
	}
	if len(pts) == 0 {
		return errorf(http.StatusNotFound, "No results of %s in %s on %s/%s.", v.Name, v.Unit, v.Project, v.Branch)
	}
	shas := make([]string, 0, len(pts))
	for _, p := range pts {
		v.Points = append(v.Points, pointView(p))
		if p.Commit != "" {
			shas = append(shas, p.Commit)
		}
	}
	cms, err := s.store.Commits(ctx, v.Project, shas)
	if err != nil {
		return err
	}
	for i := range v.Points {
		v.Points[i].Message = cms[v.Points[i].Commit].Message
	}
	for i := len(v.Points) - 1; i >= 0 && (len(v.Rows) < tableRows || c.QueryParam("rows") == "all"); i-- {
		v.Rows = append(v.Rows, v.Points[i])
	}
	v.More = len(v.Rows) < len(v.Points)
	link := func(set ...string) string {
		q := c.Request().URL.Query()
		for i := 0; i+1 < len(set); i += 2 {
			q.Set(set[i], set[i+1])
		}
		return "/benchmark?" + q.Encode()
	}
	v.TimeLink, v.CommitLink, v.AllRowsLink = link("x", "time"), link("x", "commit"), link("rows", "all")
	v.LinearLink, v.LogLink = link("y", "linear"), link("y", "log")
	if bl, err := s.store.GetBaseline(ctx, v.Project, v.Branch); err == nil {
		for i := range v.Points {
			if v.Points[i].RunID == bl.RunID {
				v.Baseline, v.BaselineName = &v.Points[i], bl.Name
			}
		}
	}
	ths, err := s.store.ListThresholds(ctx, v.Project)
	if err != nil {
		return err
	}
	rules := make([]runner.Threshold, 0, len(ths))
	for _, t := range ths {
		rules = append(rules, t.Threshold)
	}
	if len(ths) == 0 {
		rules = runner.DefaultThresholds()
	}
	for _, t := range rules {
		if (t.Kind == runner.KindUpper || t.Kind == runner.KindLower) && (t.Unit == "" || t.Unit == v.Unit) && matches(t.Benchmark, v.Name) {
			v.Limits = append(v.Limits, Limit{Name: string(t.Kind) + " limit", Value: t.Warn})
		}
	}
	ids := make([]int64, len(pts))
	commits := make(map[int64]string, len(pts))
	for i, p := range pts {
		ids[i] = p.ResultID
		commits[p.RunID] = p.Commit
	}
	alerts, err := s.store.AlertsOfResults(ctx, ids) // of the points shown, however many alerts the project has
	if err != nil {
		return err
	}
	for _, a := range alerts {
		a.Project, a.Branch, a.Testbed, a.Benchmark, a.Unit, a.Commit = v.Project, v.Branch, v.Testbed, v.Name, v.Unit, commits[a.RunID]
		v.Alerts = append(v.Alerts, alertView(a))
		if v.alerted[a.RunID] != "active" {
			v.alerted[a.RunID] = string(a.Status)
		}
	}
	meds := make([]float64, len(v.Points))
	for i, p := range v.Points {
		meds[i] = p.Median
	}
	for _, cp := range runner.ChangePoints(meds, runner.ChangePointOptions{MinEffect: 0.05}) {
		p := v.Points[cp.Index]
		v.ChangePoints = append(v.ChangePoints, ChangePointView{RunID: p.RunID, StartedAt: p.StartedAt, Commit: p.Commit, Before: cp.Before, After: cp.After, Delta: cp.Delta, P: cp.P})
	}
	bs, err := s.store.ListBranches(ctx, v.Project)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if b.Name != v.Branch {
			v.Branches = append(v.Branches, b.Name)
		}
	}
	for _, ob := range c.QueryParams()["overlay"] {
		if ob == v.Branch || len(v.Overlays) >= 5 {
			continue
		}
		hist, err := s.store.BenchmarkHistory(ctx, db.HistoryQuery{Project: v.Project, Branch: ob, Testbed: v.Testbed, Name: v.Name, Unit: v.Unit, Limit: 1000})
		if err != nil {
			return err
		}
		o := Overlay{Branch: ob}
		for _, p := range hist {
			o.Points = append(o.Points, pointView(p))
		}
		v.Overlays = append(v.Overlays, o)
		v.Overlaid = append(v.Overlaid, ob)
	}
	ch := historyChart(v)
	v.Chart = &ch
	return s.render(c, http.StatusOK, "benchmark", page{Nav: "dashboard", Charts: true, Data: v})
}

func (s *Server) dashboardPage(c echo.Context) error {
	ctx := c.Request().Context()
	ps, err := s.store.ListProjects(ctx)
	if err != nil {
		return err
	}
	v := &DashboardPage{Project: c.QueryParam("project"), Branch: c.QueryParam("branch"), Testbed: c.QueryParam("testbed")}
	for _, p := range ps {
		v.Projects = append(v.Projects, p.Name)
	}
	if v.Project == "" && len(v.Projects) > 0 {
		v.Project = v.Projects[0]
	}
	if v.Branch == "" {
		v.Branch = "main"
	}
	if v.Project != "" {
		bs, err := s.store.ListBranches(ctx, v.Project)
		if err != nil {
			return err
		}
		for _, b := range bs {
			v.Branches = append(v.Branches, b.Name)
		}
		sort.Strings(v.Branches)
		// No ?branch= and no main (a first start on another branch): the newest run's branch.
		if c.QueryParam("branch") == "" && len(v.Branches) > 0 && !slices.Contains(v.Branches, v.Branch) {
			if rs, err := s.store.ListRuns(ctx, db.RunFilter{Project: v.Project, Limit: 1}); err == nil && len(rs) > 0 {
				v.Branch = rs[0].Branch
			}
		}
		tbs, err := s.store.ListTestbeds(ctx)
		if err != nil {
			return err
		}
		for _, tb := range tbs {
			v.Testbeds = append(v.Testbeds, tb.Name)
		}
		runs, err := s.store.ListRuns(ctx, db.RunFilter{Project: v.Project, Branch: v.Branch, Testbed: v.Testbed, Limit: 1})
		if err != nil {
			return err
		}
		if len(runs) > 0 {
			if v.Latest, err = s.buildRunPage(c, runs[0]); err != nil {
				return err
			}
			v.Testbed = runs[0].Testbed
			if err := s.addTrends(c, runs[0], v.Latest); err != nil {
				return err
			}
			// Open regressions first, from the same data as the dashboard's JSON.
			d, err := s.dashboardData(ctx, v.Project, v.Branch, v.Testbed)
			if err != nil {
				return err
			}
			v.OpenRegressions = openRegressions(d)
		}
	}
	js, err := s.jobList(ctx, 20)
	if err != nil {
		return err
	}
	for _, j := range js {
		if j.Active() {
			v.Jobs = append(v.Jobs, j)
		}
	}
	v.RunNow = s.runNowForm(v.Project, v.Branch)
	return s.render(c, http.StatusOK, "dashboard", page{Nav: "dashboard", Charts: v.Latest != nil && v.Latest.Chart != nil, Data: v})
}

// RunListRow is a run of the runs list with its verdict counts.
type RunListRow struct {
	RunView
	Counts []StatusCount
}

func (s *Server) runsPage(c echo.Context) error {
	before, err := intQuery(c, "before")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	runs, err := s.store.ListRuns(ctx, db.RunFilter{Project: c.QueryParam("project"), Branch: c.QueryParam("branch"),
		Testbed: c.QueryParam("testbed"), Before: before, Limit: 100})
	if err != nil {
		return err
	}
	ids := make([]int64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	counts, err := s.store.VerdictCounts(ctx, ids)
	if err != nil {
		return err
	}
	out := make([]RunListRow, len(runs))
	for i, r := range runs {
		out[i] = RunListRow{RunView: s.runView(r), Counts: statusCounts(counts[r.ID])}
	}
	return s.render(c, http.StatusOK, "runs", page{Nav: "runs", Data: out})
}

func (s *Server) alertsPage(c echo.Context) error {
	st := db.AlertStatus(c.QueryParam("status"))
	switch st {
	case "", db.AlertActive, db.AlertAcknowledged, db.AlertResolved:
	default:
		return errorf(http.StatusBadRequest, "Unknown alert status %q.", st)
	}
	as, err := s.store.ListAlerts(c.Request().Context(), db.AlertFilter{Project: c.QueryParam("project"), Status: st, Limit: 500})
	if err != nil {
		return err
	}
	var groups []AlertGroup
	at := map[int64]int{}
	for _, a := range as {
		i, ok := at[a.RunID]
		if !ok {
			i = len(groups)
			at[a.RunID] = i
			groups = append(groups, AlertGroup{RunID: a.RunID, Project: a.Project, Branch: a.Branch, Testbed: a.Testbed, Commit: a.Commit, CreatedAt: a.CreatedAt})
		}
		av := AlertView(alertView(a))
		groups[i].Alerts = append(groups[i].Alerts, AlertRow{AlertView: av, Link: benchmarkLink(a.Project, a.Branch, a.Testbed, a.Benchmark, a.Unit),
			Value: runner.FormatValue(a.Value, a.Unit), DeltaPct: deltaPct(a.Baseline, a.Delta)})
	}
	return s.render(c, http.StatusOK, "alerts", page{Nav: "alerts", Data: map[string]any{"Status": string(st), "Groups": groups}})
}

// AlertGroup is the alerts of one change: those raised by one run (its commit against the
// baseline it was judged against), newest run first.
type AlertGroup struct {
	RunID                            int64
	Project, Branch, Testbed, Commit string
	CreatedAt                        time.Time
	Alerts                           []AlertRow
}

// AlertRow is an alert as the alerts page lists it.
type AlertRow struct {
	AlertView
	Link, Value, DeltaPct string
}

// deltaPct is a change as the pages show it ("+25.3%"), "" without a baseline.
func deltaPct(baseline, delta float64) string {
	if baseline == 0 {
		return ""
	}
	return fmt.Sprintf("%+.1f%%", delta*100)
}

// tableRows is how many of its newest runs the benchmark page lists by default (the chart
// draws every point).
const tableRows = 100

// trendRuns is how many runs the dashboard's trend lines span.
const trendRuns = 20

// addTrends draws each result's median over the last trendRuns runs of its branch and testbed
// (up to the latest) as a small inline SVG: one query for every row (Store.Trends), and no
// script, so hundreds of rows cost nothing to display.
func (s *Server) addTrends(c echo.Context, latest db.Run, v *RunPage) error {
	trends, err := s.store.Trends(c.Request().Context(), latest, trendRuns)
	if err != nil {
		return err
	}
	type key struct{ name, unit string }
	series := make(map[key][]float64, len(trends))
	for _, t := range trends {
		series[key{t.Name, t.Unit}] = t.Medians
	}
	v.Trends = true
	for i := range v.Rows {
		v.Rows[i].Trend = sparkline(series[key{v.Rows[i].Name, v.Rows[i].Unit}], v.Rows[i].Verdict.Status)
	}
	return nil
}

// sparkline returns an inline SVG polyline of ys (at least two points; "" otherwise), scaled
// to its own range and coloured by status. It contains only numbers, never names.
func sparkline(ys []float64, status string) template.HTML {
	if len(ys) < 2 {
		return ""
	}
	const w, h = 100.0, 24.0
	lo, hi := ys[0], ys[0]
	for _, y := range ys {
		lo, hi = min(lo, y), max(hi, y)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="trend of the last %d runs"><polyline fill="none" stroke="%s" stroke-width="1.5" points="`, w, h, w, h, len(ys), statusColor(status))
	for i, y := range ys {
		x := w * float64(i) / float64(len(ys)-1)
		yy := h / 2
		if hi > lo {
			yy = h - 2 - (h-4)*(y-lo)/(hi-lo)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x, yy)
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String())
}

// matches reports whether the threshold pattern matches the whole name.
func matches(pattern, name string) bool {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	return err == nil && re.MatchString(name)
}
