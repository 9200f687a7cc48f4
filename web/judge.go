package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// Ingester stores runs and judges them against a baseline and the project's thresholds. The
// API (posted runs) and the worker (runs it measured itself) share it, so both store, compare
// and alert the same way.
type Ingester struct {
	store   *db.Store
	log     *slog.Logger
	metrics *Metrics
	// Options are the statistical settings of comparisons (zero: runner's defaults).
	Options runner.Options
	// BaseURL prefixes run links ("" = relative).
	BaseURL string
}

// NewIngester returns an Ingester over store. m may be nil (no metrics).
func NewIngester(store *db.Store, log *slog.Logger, m *Metrics) *Ingester {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Ingester{store: store, log: log, metrics: m}
}

// alertRules are the verdict rules the alerts table accepts.
var alertRules = map[string]bool{"regression": true, "upper": true, "lower": true, "scaling": true, "changepoint": true}

// Ingest stores run in project (all results in one transaction), compares it with its
// baseline, stores an alert per fired rule, resolves older alerts that are back within
// limits, and returns the reply. created is false when the run's idempotency key was already
// used: nothing new is stored and the reply describes the first run.
func (g *Ingester) Ingest(ctx context.Context, project string, in *RunInput) (rep *IngestReply, created bool, err error) {
	if in.IdempotencyKey != "" {
		r, err := g.store.RunByIdempotencyKey(ctx, project, in.IdempotencyKey)
		if err == nil {
			rep, err := g.replay(ctx, r)
			return rep, false, err
		}
		if !errors.Is(err, db.ErrNotFound) {
			return nil, false, err
		}
	}
	nr := db.NewRun{Project: project, Branch: in.Branch, Testbed: testbedOf(in), Commit: in.Commit,
		Trigger: db.Trigger(in.Trigger), Suite: in.Suite, StartedAt: in.StartedAt, FinishedAt: in.FinishedAt,
		Config: in.Config, IdempotencyKey: in.IdempotencyKey}
	if nr.StartedAt.IsZero() {
		nr.StartedAt = time.Now().UTC()
	}
	if nr.FinishedAt.IsZero() || nr.FinishedAt.Before(nr.StartedAt) {
		nr.FinishedAt = nr.StartedAt
	}
	nr.Results = make([]db.NewResult, len(in.Results))
	for i, r := range in.Results {
		nr.Results[i] = db.NewResult{Result: r, Summary: storable(runner.Summarize(r.Samples, g.Options), r.Samples)}
	}
	base, err := g.baseline(ctx, project, in.Branch, nr.Testbed.Name, 0)
	if err != nil {
		return nil, false, err
	}
	run, err := g.store.InsertRun(ctx, nr)
	if errors.Is(err, db.ErrConflict) && in.IdempotencyKey != "" {
		// A concurrent request with the same key won the race: answer with its run.
		r, gerr := g.store.RunByIdempotencyKey(ctx, project, in.IdempotencyKey)
		if gerr != nil {
			return nil, false, fmt.Errorf("reading the run of idempotency key %q: %w", in.IdempotencyKey, gerr)
		}
		rep, err := g.replay(ctx, r)
		return rep, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("storing run: %w", err)
	}
	if g.metrics != nil {
		g.metrics.IngestedRuns.WithLabelValues(in.Trigger).Inc()
		g.metrics.IngestedResults.Add(float64(len(nr.Results)))
	}
	rep, err = g.judge(ctx, run, in.Results, base, true)
	if err != nil {
		return nil, true, err
	}
	for _, f := range in.Failures {
		rep.Failures = append(rep.Failures, FailureView{Name: f.Name, Pkg: f.Pkg, Kind: string(f.Kind), Message: f.Message, Line: f.Line})
	}
	g.log.InfoContext(ctx, "run stored", "run_id", run.ID, "project", project, "branch", run.Branch,
		"testbed", run.Testbed, "results", len(nr.Results), "status", rep.Status, "alerts", len(rep.Alerts))
	return rep, true, nil
}

// replay rebuilds the reply of a stored run (a repeated idempotency key). It stores the run's
// alerts if an earlier attempt stopped between the run and its alerts.
func (g *Ingester) replay(ctx context.Context, run db.Run) (*IngestReply, error) {
	stored, err := g.store.Results(ctx, run.ID)
	if err != nil {
		return nil, fmt.Errorf("reading results of run %d: %w", run.ID, err)
	}
	results := make([]runner.Result, len(stored))
	for i, r := range stored {
		results[i] = r.Result
	}
	base, err := g.baseline(ctx, run.Project, run.Branch, run.Testbed, run.ID)
	if err != nil {
		return nil, err
	}
	return g.judge(ctx, run, results, base, false)
}

// baselineRun is a run to compare with, its results by name and unit, and why it was chosen.
type baselineRun struct {
	ref     BaselineRef
	results map[[2]string]*runner.Result
}

// baseline chooses what a run of branch on testbed is compared with, in order: the project's
// baseline named like the branch; the branch's latest earlier run; the baseline "main"; main's
// latest run. Only runs on the same testbed count (comparisons stay within a testbed). before
// excludes the run itself and later ones (0: none stored yet). It returns nil when nothing fits.
func (g *Ingester) baseline(ctx context.Context, project, branch, testbed string, before int64) (*baselineRun, error) {
	type candidate struct{ named, branch string }
	cands := []candidate{{named: branch}, {branch: branch}}
	if branch != "main" {
		cands = append(cands, candidate{named: "main"}, candidate{branch: "main"})
	}
	for _, c := range cands {
		var run db.Run
		var source string
		if c.named != "" {
			bl, err := g.store.GetBaseline(ctx, project, c.named)
			if errors.Is(err, db.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading baseline %q: %w", c.named, err)
			}
			if before != 0 && bl.RunID == before {
				continue
			}
			if run, err = g.store.GetRun(ctx, bl.RunID); err != nil {
				return nil, fmt.Errorf("reading baseline run %d: %w", bl.RunID, err)
			}
			if run.Testbed != testbed || run.Status != db.RunDone {
				continue
			}
			source = "baseline:" + c.named
		} else {
			runs, err := g.store.ListRuns(ctx, db.RunFilter{Project: project, Branch: c.branch, Testbed: testbed, Before: before, Limit: 20})
			if err != nil {
				return nil, fmt.Errorf("listing runs of %s: %w", c.branch, err)
			}
			found := false
			for _, r := range runs {
				if r.Status == db.RunDone && r.ResultCount > 0 {
					run, found = r, true
					break
				}
			}
			if !found {
				continue
			}
			source = "previous:" + c.branch
		}
		stored, err := g.store.Results(ctx, run.ID)
		if err != nil {
			return nil, fmt.Errorf("reading results of baseline run %d: %w", run.ID, err)
		}
		b := &baselineRun{ref: BaselineRef{RunID: run.ID, Source: source}, results: make(map[[2]string]*runner.Result, len(stored))}
		for i := range stored {
			b.results[[2]string{stored[i].Name, stored[i].Unit}] = &stored[i].Result
		}
		return b, nil
	}
	return nil, nil
}

// judge compares results with base, evaluates the project's thresholds and builds the reply.
// When fresh, it stores the alerts and resolves older ones; otherwise (a replay) it stores only
// alerts that are missing.
func (g *Ingester) judge(ctx context.Context, run db.Run, results []runner.Result, base *baselineRun, fresh bool) (*IngestReply, error) {
	verdicts, stored, err := g.evaluate(ctx, run.Project, results, base)
	if err != nil {
		return nil, err
	}
	rep := &IngestReply{RunID: run.ID, URL: g.BaseURL + "/runs/" + strconv.FormatInt(run.ID, 10),
		Verdicts: make([]VerdictView, len(verdicts)), Alerts: []int64{}, Counts: map[string]int{}}
	var fire []db.NewAlert
	for i, v := range verdicts {
		rep.Verdicts[i] = verdictView(v)
		rep.Counts[string(v.Status)]++
		if (v.Status == runner.StatusRegressed || v.Status == runner.StatusWarning) && alertRules[v.Rule] {
			fire = append(fire, db.NewAlert{Verdict: v, ThresholdID: thresholdID(stored, v)})
		}
	}
	rep.Status = worst(rep.Counts)
	var baseID int64
	if base != nil {
		ref := base.ref
		rep.Baseline = &ref
		baseID = ref.RunID
	}
	ids, err := g.store.InsertAlerts(ctx, run.ID, baseID, fire)
	switch {
	case err == nil:
		rep.Alerts = ids
	case errors.Is(err, db.ErrConflict) && !fresh:
		existing, err := g.store.ListAlerts(ctx, db.AlertFilter{RunID: run.ID, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("reading alerts of run %d: %w", run.ID, err)
		}
		for i := len(existing) - 1; i >= 0; i-- {
			rep.Alerts = append(rep.Alerts, existing[i].ID)
		}
	default:
		return nil, fmt.Errorf("storing alerts of run %d: %w", run.ID, err)
	}
	if fresh {
		if err := g.resolve(ctx, run, results, verdicts); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// evaluate compares results with base and applies the project's thresholds (the stored ones,
// or the defaults when it has none). It stores nothing; it also returns the stored thresholds.
func (g *Ingester) evaluate(ctx context.Context, project string, results []runner.Result, base *baselineRun) ([]runner.Verdict, []db.Threshold, error) {
	stored, err := g.store.ListThresholds(ctx, project)
	if err != nil {
		return nil, nil, fmt.Errorf("reading thresholds: %w", err)
	}
	ths := runner.DefaultThresholds()
	if len(stored) > 0 {
		ths = make([]runner.Threshold, len(stored))
		for i, t := range stored {
			ths[i] = t.Threshold
		}
	}
	rules, err := runner.NewRules(ths)
	if err != nil {
		return nil, nil, fmt.Errorf("compiling thresholds of %s: %w", project, err)
	}
	cmps := make([]runner.Comparison, len(results))
	for i := range results {
		var old *runner.Result
		if base != nil {
			old = base.results[[2]string{results[i].Name, results[i].Unit}]
		}
		cmps[i] = runner.Compare(old, &results[i], g.Options)
	}
	return rules.Evaluate(cmps, g.Options), stored, nil
}

// Judge compares a stored run with the baseline it would get now and returns the verdicts
// (nil baseline ref when there is none to compare with). It stores nothing: pages use it.
func (g *Ingester) Judge(ctx context.Context, run db.Run, results []db.Result) ([]runner.Verdict, *BaselineRef, error) {
	base, err := g.baseline(ctx, run.Project, run.Branch, run.Testbed, run.ID)
	if err != nil {
		return nil, nil, err
	}
	rs := make([]runner.Result, len(results))
	for i, r := range results {
		rs[i] = r.Result
	}
	v, _, err := g.evaluate(ctx, run.Project, rs, base)
	if err != nil {
		return nil, nil, err
	}
	if base == nil {
		return v, nil, nil
	}
	ref := base.ref
	return v, &ref, nil
}

// resolve marks as resolved the open alerts of earlier runs on the same branch and testbed
// whose benchmark is back within limits in run: for a regression or change-point alert, the
// median is no longer worse than the alert's baseline value by the alert's minimum effect (5%
// unless the rule said otherwise); for a static limit, the median is inside it; for scaling,
// the rule no longer fires. Comparing with the alert's own baseline matters: compared with the
// previous (already regressed) run, a lasting regression would look fine.
func (g *Ingester) resolve(ctx context.Context, run db.Run, results []runner.Result, verdicts []runner.Verdict) error {
	type key struct{ name, unit string }
	now := make(map[key]runner.Verdict, len(verdicts))
	dir := make(map[key]runner.Direction, len(results))
	for i, v := range verdicts {
		now[key{v.Name, v.Unit}] = v
		if i < len(results) {
			dir[key{results[i].Name, results[i].Unit}] = results[i].Better
		}
	}
	for _, st := range []db.AlertStatus{db.AlertActive, db.AlertAcknowledged} {
		open, err := g.store.ListAlerts(ctx, db.AlertFilter{Project: run.Project, Status: st, Limit: 1000})
		if err != nil {
			return fmt.Errorf("listing %s alerts: %w", st, err)
		}
		for _, a := range open {
			k := key{a.Benchmark, a.Unit}
			v, measured := now[k]
			if a.RunID >= run.ID || a.Branch != run.Branch || a.Testbed != run.Testbed || !measured {
				continue
			}
			if !backWithin(a, v, dir[k]) {
				continue
			}
			if err := g.store.ResolveAlert(ctx, a.ID); err != nil && !errors.Is(err, db.ErrConflict) {
				return fmt.Errorf("resolving alert %d: %w", a.ID, err)
			}
			g.log.InfoContext(ctx, "alert resolved", "alert_id", a.ID, "run_id", run.ID, "benchmark", a.Benchmark, "unit", a.Unit)
		}
	}
	return nil
}

// backWithin reports whether verdict v (of a later run) shows alert a's benchmark back within
// the limit the alert was raised for.
func backWithin(a db.Alert, v runner.Verdict, d runner.Direction) bool {
	switch a.Rule {
	case "upper":
		return v.Value < a.Limit
	case "lower":
		return v.Value >= a.Limit
	case "regression", "changepoint":
		if a.Baseline == 0 || d == runner.DirUnknown {
			return v.Status == runner.StatusOK || v.Status == runner.StatusImproved
		}
		effect := 0.05
		if a.Rule == "regression" && a.Limit > 0 {
			effect = a.Limit / 100
		}
		worse := (v.Value - a.Baseline) / a.Baseline
		if d == runner.HigherBetter {
			worse = -worse
		}
		return worse < effect
	default:
		return v.Status == runner.StatusOK || v.Status == runner.StatusImproved
	}
}

// thresholdID finds the stored rule a verdict applied: same kind and limit, matching unit and
// benchmark pattern (0 when none, e.g. a default rule).
func thresholdID(stored []db.Threshold, v runner.Verdict) int64 {
	for _, t := range stored {
		if string(t.Kind) != v.Rule || (t.Unit != "" && t.Unit != v.Unit) {
			continue
		}
		if t.Kind != runner.KindRegression && t.Warn != v.Limit {
			continue
		}
		if re, err := regexp.Compile("^(?:" + t.Benchmark + ")$"); err == nil && re.MatchString(v.Name) {
			return t.ID
		}
	}
	return 0
}

// storable bounds a summary's interval by the samples' range where benchmath gives none
// (fewer than 6 samples: ±Inf), since the database keeps only finite figures.
func storable(sum runner.Summary, samples []float64) runner.Summary {
	if len(samples) == 0 {
		return sum
	}
	lo, hi := slices.Min(samples), slices.Max(samples)
	if math.IsInf(sum.Lo, 0) || math.IsNaN(sum.Lo) || sum.Lo > sum.Median {
		sum.Lo = lo
	}
	if math.IsInf(sum.Hi, 0) || math.IsNaN(sum.Hi) || sum.Hi < sum.Median {
		sum.Hi = hi
	}
	return sum
}

// worst returns the most severe status present in counts.
func worst(counts map[string]int) string {
	for _, s := range []runner.Status{runner.StatusRegressed, runner.StatusWarning, runner.StatusImproved, runner.StatusOK} {
		if counts[string(s)] > 0 {
			return string(s)
		}
	}
	return string(runner.StatusUnknown)
}

// testbedOf builds the testbed fingerprint of a posted run from its config lines.
func testbedOf(in *RunInput) db.Testbed {
	tb := db.Testbed{Name: in.Testbed}
	for _, c := range in.Config {
		switch c.Key {
		case "goos":
			tb.GOOS = c.Value
		case "goarch":
			tb.GOARCH = c.Value
		case "cpu":
			tb.CPU = c.Value
		case "go", "goversion":
			tb.GoVersion = c.Value
		}
	}
	return tb
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// wholeName compiles a threshold pattern anchored to match whole benchmark names.
func wholeName(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + pattern + ")$")
}
