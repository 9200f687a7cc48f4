package web

import (
	"math"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// The view types below are the one shape of benchd's data seen from outside: the JSON API
// encodes them and the pages render them.

// RunView is a run's metadata.
type RunView struct {
	ID          int64               `json:"id"`
	Project     string              `json:"project"`
	Branch      string              `json:"branch"`
	Testbed     string              `json:"testbed"`
	Commit      string              `json:"commit"`
	Trigger     string              `json:"trigger"`
	Suite       string              `json:"suite"`
	Status      string              `json:"status"`
	StartedAt   time.Time           `json:"started_at"`
	FinishedAt  *time.Time          `json:"finished_at,omitempty"`
	Config      []runner.ConfigLine `json:"config"`
	ResultCount int                 `json:"result_count"`
	URL         string              `json:"url"`
}

// ResultView is one result of a run: its summary and, on request, its raw samples.
type ResultView struct {
	Name   string  `json:"name"`
	Procs  int     `json:"procs,omitempty"`
	Unit   string  `json:"unit"`
	Better int     `json:"better"`
	N      int     `json:"n"`
	Median float64 `json:"median"`
	// Lo and Hi are the 95% CI, null when it could not be computed (fewer than 6 samples).
	Lo      *float64  `json:"ci_lo"`
	Hi      *float64  `json:"ci_hi"`
	Samples []float64 `json:"samples,omitempty"`
}

// VerdictView is the judgement of one benchmark/unit against the baseline and thresholds.
type VerdictView struct {
	Name     string  `json:"name"`
	Unit     string  `json:"unit"`
	Status   string  `json:"status"`
	Rule     string  `json:"rule"`
	Value    float64 `json:"value"`
	Baseline float64 `json:"baseline"`
	Limit    float64 `json:"limit"`
	Delta    float64 `json:"delta"`
	P        float64 `json:"p"`
	Note     string  `json:"note"`
	// Against names the baseline the verdict was judged against ("" when none).
	Against string `json:"against,omitempty"`
}

// AlertView is a stored alert.
type AlertView struct {
	ID            int64      `json:"id"`
	RunID         int64      `json:"run_id"`
	Project       string     `json:"project"`
	Branch        string     `json:"branch"`
	Testbed       string     `json:"testbed"`
	Commit        string     `json:"commit"`
	Benchmark     string     `json:"benchmark"`
	Unit          string     `json:"unit"`
	Rule          string     `json:"rule"`
	BaselineRunID int64      `json:"baseline_run_id,omitempty"`
	Value         float64    `json:"value"`
	Baseline      float64    `json:"baseline"`
	Limit         float64    `json:"limit"`
	Delta         float64    `json:"delta"`
	P             float64    `json:"p"`
	Note          string     `json:"note"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"created_at"`
	AckedAt       *time.Time `json:"acknowledged_at,omitempty"`
	ResolvedAt    *time.Time `json:"resolved_at,omitempty"`
	// LastGoodRunID and LastGoodCommit are the series' newest run before the change (0 and
	// "" when none): the change's commit range is last_good_commit..commit.
	LastGoodRunID  int64  `json:"last_good_run_id,omitempty"`
	LastGoodCommit string `json:"last_good_commit,omitempty"`
	// LastRunID is the newest run that still showed the change, Runs how many did, and
	// LatestValue/LatestDelta that run's figures.
	LastRunID     int64     `json:"last_run_id,omitempty"`
	Runs          int       `json:"runs"`
	LatestValue   float64   `json:"latest_value"`
	LatestDelta   float64   `json:"latest_delta"`
	ResolvedRunID int64     `json:"resolved_run_id,omitempty"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// BaselineView is a named baseline.
type BaselineView struct {
	Name      string    `json:"name"`
	RunID     int64     `json:"run_id"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ThresholdView is a stored threshold rule.
type ThresholdView struct {
	ID        int64   `json:"id"`
	Benchmark string  `json:"benchmark"`
	Unit      string  `json:"unit"`
	Kind      string  `json:"kind"`
	Warn      float64 `json:"warn"`
	Note      string  `json:"note"`
}

// PointView is one point of a benchmark's history.
type PointView struct {
	RunID     int64     `json:"run_id"`
	Commit    string    `json:"commit"`
	StartedAt time.Time `json:"started_at"`
	Median    float64   `json:"median"`
	// Lo and Hi are the 95% CI, null when it could not be computed (fewer than 6 samples).
	Lo *float64 `json:"ci_lo"`
	Hi *float64 `json:"ci_hi"`
	N  int      `json:"n"`
	// Status, Baseline, Delta and P are the result's verdict against its run's baseline, as
	// stored when the run was (Status "" when it was stored without one; Baseline 0 when the
	// run had nothing to compare with).
	Status   string  `json:"status,omitempty"`
	Baseline float64 `json:"baseline"`
	Delta    float64 `json:"delta"`
	P        float64 `json:"p"`
	// BaselineName names what the verdict was judged against ("baseline main (run 12)",
	// "history of main (5 runs, 30–34)"); "" when nothing or not known.
	BaselineName string `json:"baseline_name,omitempty"`
	// Message is the commit's message (first line), "" when not known.
	Message string `json:"message,omitempty"`
}

// pointView is the view of a history point.
func pointView(p db.HistoryPoint) PointView {
	v := PointView{RunID: p.RunID, Commit: p.Commit, StartedAt: p.StartedAt, Median: p.Median, N: p.N,
		Status: p.Status, Baseline: p.Baseline, Delta: p.Delta, P: p.P, BaselineName: p.BaselineLabel}
	v.Lo, v.Hi = ciView(p.Lo, p.Hi)
	return v
}

// ciView returns a 95% CI for the views: nil bounds when it could not be computed (infinite).
func ciView(lo, hi float64) (*float64, *float64) {
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
		return nil, nil
	}
	return &lo, &hi
}

// IngestReply is the answer to POST /api/v1/projects/{project}/runs.
type IngestReply struct {
	RunID int64  `json:"run_id"`
	URL   string `json:"url"`
	// Status is the worst verdict: regressed, warning, improved, ok or unknown.
	Status string `json:"status"`
	// Baseline is the run compared against (nil when there was none).
	Baseline *BaselineRef  `json:"baseline"`
	Verdicts []VerdictView `json:"verdicts"`
	// Alerts are the alerts this run opened or still shows; AlertChanges say what the run did
	// to each alert (open, update, resolve).
	Alerts       []int64           `json:"alerts"`
	AlertChanges []AlertChangeView `json:"alert_changes"`
	Failures     []FailureView     `json:"failures,omitempty"`
	Counts       map[string]int    `json:"counts"`
	Run          *RunView          `json:"run,omitempty"`
}

// BaselineLabel names the run's baseline ("no baseline" when there was none).
func (r *IngestReply) BaselineLabel() string {
	if r.Baseline == nil {
		return "no baseline"
	}
	return r.Baseline.Label
}

// AlertChangeView is what a run did to one alert.
type AlertChangeView struct {
	ID     int64  `json:"id"`
	Action string `json:"action"`
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Rule   string `json:"rule"`
}

// BaselineRef says what a run was compared with and why (docs/methodology.md, "Baselines").
type BaselineRef struct {
	// RunID is the (newest) stored run of the baseline; 0 for an interleaved side.
	RunID int64 `json:"run_id"`
	// Source is "baseline:NAME" (a named baseline), "start_point:BRANCH" (the branch this
	// one was forked from, at the fork), "history:BRANCH" (the branch's recent runs, pooled)
	// or "interleaved:COMMIT" (measured alternately with the run).
	Source string `json:"source"`
	// Label names it for people: "baseline main (run 12)", "history of main (5 runs, 30–34)".
	Label string `json:"label"`
	// Commit is the baseline's commit ("" when unknown).
	Commit string `json:"commit,omitempty"`
}

// FailureView is a benchmark the posted output reports as failed.
type FailureView struct {
	Name    string `json:"name"`
	Pkg     string `json:"pkg,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Line    int    `json:"line"`
}

func (s *Server) runURL(id int64) string {
	return s.cfg.BaseURL + "/runs/" + itoa(id)
}

func (s *Server) runView(r db.Run) RunView {
	v := RunView{ID: r.ID, Project: r.Project, Branch: r.Branch, Testbed: r.Testbed, Commit: r.Commit,
		Trigger: string(r.Trigger), Suite: r.Suite, Status: string(r.Status), StartedAt: r.StartedAt,
		Config: r.Config, ResultCount: r.ResultCount, URL: s.runURL(r.ID)}
	if v.Config == nil {
		v.Config = []runner.ConfigLine{}
	}
	if !r.FinishedAt.IsZero() {
		t := r.FinishedAt
		v.FinishedAt = &t
	}
	return v
}

func resultView(r db.Result, samples bool) ResultView {
	v := ResultView{Name: r.Name, Procs: r.Procs, Unit: r.Unit, Better: int(r.Better), N: r.Summary.N,
		Median: r.Summary.Median}
	v.Lo, v.Hi = ciView(r.Summary.Lo, r.Summary.Hi)
	if samples {
		v.Samples = r.Samples
	}
	return v
}

func verdictView(v runner.Verdict) VerdictView {
	return VerdictView{Name: v.Name, Unit: v.Unit, Status: string(v.Status), Rule: v.Rule, Value: v.Value,
		Baseline: v.Baseline, Limit: v.Limit, Delta: v.Delta, P: v.P, Note: v.Note, Against: v.Against}
}

func alertView(a db.Alert) AlertView {
	v := AlertView{ID: a.ID, RunID: a.RunID, Project: a.Project, Branch: a.Branch, Testbed: a.Testbed, Commit: a.Commit,
		Benchmark: a.Benchmark, Unit: a.Unit, Rule: a.Rule, BaselineRunID: a.BaselineRunID, Value: a.Value,
		Baseline: a.Baseline, Limit: a.Limit, Delta: a.Delta, P: a.P, Note: a.Note, Status: string(a.Status),
		CreatedAt: a.CreatedAt, LastGoodRunID: a.LastGoodRunID, LastGoodCommit: a.LastGoodCommit, LastRunID: a.LastRunID,
		Runs: a.Runs, LatestValue: a.LatestValue, LatestDelta: a.LatestDelta, ResolvedRunID: a.ResolvedRunID,
		UpdatedAt: a.UpdatedAt}
	if !a.AcknowledgedAt.IsZero() {
		t := a.AcknowledgedAt
		v.AckedAt = &t
	}
	if !a.ResolvedAt.IsZero() {
		t := a.ResolvedAt
		v.ResolvedAt = &t
	}
	return v
}

func thresholdView(t db.Threshold) ThresholdView {
	return ThresholdView{ID: t.ID, Benchmark: t.Benchmark, Unit: t.Unit, Kind: string(t.Kind), Warn: t.Warn, Note: t.Note}
}
