package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// cache and rules are shared by copies of the Ingester (the worker copies it to set Options).
	cache *runCache
	rules *rulesCache
}

// NewIngester returns an Ingester over store. m may be nil (no metrics).
func NewIngester(store *db.Store, log *slog.Logger, m *Metrics) *Ingester {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Ingester{store: store, log: log, metrics: m, cache: &runCache{}, rules: &rulesCache{}}
}

// alertRules are the verdict rules the alerts table accepts.
var alertRules = map[string]bool{"regression": true, "upper": true, "lower": true, "scaling": true, "changepoint": true}

// Ingest judges run against its baseline and project's thresholds, then stores it with its
// results, their verdicts and the alerts that fired in one transaction, resolves older alerts
// that are back within limits, and returns the reply. created is false when the run's
// idempotency key was already used: nothing new is stored and the reply is the first run's
// stored answer.
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
	base, err := g.baseline(ctx, project, in.Branch, nr.Testbed.Name, 0)
	if err != nil {
		return nil, false, err
	}
	verdicts, stored, cmps, err := g.compare(ctx, project, in.Results, base)
	if err != nil {
		return nil, false, err
	}
	nr.Results = make([]db.NewResult, len(in.Results))
	for i, r := range in.Results {
		// cmps[i].New is runner.Summarize(r.Samples, g.Options), computed by the comparison.
		nr.Results[i] = db.NewResult{Result: r, Summary: cmps[i].New, Verdict: &verdicts[i]}
	}
	if base != nil {
		nr.Baseline = &db.RunBaseline{RunID: base.ref.RunID, Source: base.ref.Source}
	}
	nr.Alerts = fired(verdicts, stored)
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
	g.cache.put(run.ID, in.Results) // the likely baseline of the branch's next run
	if g.metrics != nil {
		g.metrics.IngestedRuns.WithLabelValues(in.Trigger).Inc()
		g.metrics.IngestedResults.Add(float64(len(nr.Results)))
	}
	rep = g.reply(run, verdicts, run.AlertIDs)
	if err := g.resolve(ctx, run, in.Results, verdicts); err != nil {
		return nil, true, err
	}
	for _, f := range in.Failures {
		rep.Failures = append(rep.Failures, FailureView{Name: f.Name, Pkg: f.Pkg, Kind: string(f.Kind), Message: f.Message, Line: f.Line})
	}
	g.log.InfoContext(ctx, "run stored", "run_id", run.ID, "project", project, "branch", run.Branch,
		"testbed", run.Testbed, "results", len(nr.Results), "status", rep.Status, "alerts", len(rep.Alerts))
	return rep, true, nil
}

// fired returns the alerts verdicts raise: a regressed or warning verdict of a rule the alerts
// table knows, with the stored threshold that applied.
func fired(verdicts []runner.Verdict, stored []db.Threshold) []db.NewAlert {
	var fire []db.NewAlert
	for _, v := range verdicts {
		if (v.Status == runner.StatusRegressed || v.Status == runner.StatusWarning) && alertRules[v.Rule] {
			fire = append(fire, db.NewAlert{Verdict: v, ThresholdID: thresholdID(stored, v)})
		}
	}
	return fire
}

// reply builds the answer to a posted run from its verdicts and alerts.
func (g *Ingester) reply(run db.Run, verdicts []runner.Verdict, alerts []int64) *IngestReply {
	rep := &IngestReply{RunID: run.ID, URL: g.BaseURL + "/runs/" + strconv.FormatInt(run.ID, 10),
		Verdicts: make([]VerdictView, len(verdicts)), Alerts: alerts, Counts: map[string]int{}}
	if rep.Alerts == nil {
		rep.Alerts = []int64{}
	}
	for i, v := range verdicts {
		rep.Verdicts[i] = verdictView(v)
		rep.Counts[string(v.Status)]++
	}
	rep.Status = worst(rep.Counts)
	if run.Baseline != nil {
		rep.Baseline = &BaselineRef{RunID: run.Baseline.RunID, Source: run.Baseline.Source}
	}
	return rep
}

// storedVerdicts returns the verdicts stored with results, or false when any is missing (a
// run stored without a judgement).
func storedVerdicts(results []db.Result) ([]runner.Verdict, bool) {
	out := make([]runner.Verdict, len(results))
	for i, r := range results {
		if r.Verdict == nil {
			return nil, false
		}
		out[i] = *r.Verdict
	}
	return out, true
}

// replay returns the answer of a stored run (a repeated idempotency key): the verdicts and
// alerts stored with it. A run stored without verdicts is judged again, and the alerts it
// lacks are stored.
func (g *Ingester) replay(ctx context.Context, run db.Run) (*IngestReply, error) {
	stored, err := g.store.Results(ctx, run.ID)
	if err != nil {
		return nil, fmt.Errorf("reading results of run %d: %w", run.ID, err)
	}
	// Results are stored in the order posted (one COPY), so their ids give the first answer's order.
	slices.SortFunc(stored, func(a, b db.Result) int { return cmp.Compare(a.ID, b.ID) })
	if verdicts, ok := storedVerdicts(stored); ok {
		alerts, err := g.store.ListAlerts(ctx, db.AlertFilter{RunID: run.ID, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("reading alerts of run %d: %w", run.ID, err)
		}
		ids := make([]int64, 0, len(alerts))
		for i := len(alerts) - 1; i >= 0; i-- {
			if alerts[i].Rule != "changepoint" { // raised later by the change-point job
				ids = append(ids, alerts[i].ID)
			}
		}
		return g.reply(run, verdicts, ids), nil
	}
	results := make([]runner.Result, len(stored))
	for i, r := range stored {
		results[i] = r.Result
	}
	base, err := g.baseline(ctx, run.Project, run.Branch, run.Testbed, run.ID)
	if err != nil {
		return nil, err
	}
	return g.judge(ctx, run, results, base)
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
		var runID int64
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
			run, err := g.store.GetRun(ctx, bl.RunID)
			if err != nil {
				return nil, fmt.Errorf("reading baseline run %d: %w", bl.RunID, err)
			}
			if run.Testbed != testbed || run.Status != db.RunDone {
				continue
			}
			runID, source = run.ID, "baseline:"+c.named
		} else {
			id, err := g.store.LatestRunWithResults(ctx, project, c.branch, testbed, before)
			if errors.Is(err, db.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("finding the latest run of %s: %w", c.branch, err)
			}
			runID, source = id, "previous:"+c.branch
		}
		b := &baselineRun{ref: BaselineRef{RunID: runID, Source: source}}
		if b.results = g.cache.get(runID); b.results != nil {
			return b, nil
		}
		stored, err := g.store.Results(ctx, runID)
		if err != nil {
			return nil, fmt.Errorf("reading results of baseline run %d: %w", runID, err)
		}
		rs := make([]runner.Result, len(stored))
		for i := range stored {
			rs[i] = stored[i].Result
		}
		b.results = g.cache.put(runID, rs)
		return b, nil
	}
	return nil, nil
}

// judge compares the results of a run stored without verdicts with base and stores the
// alerts it lacks (a run stored by an older benchd, or by Store.InsertRun without a judgement).
func (g *Ingester) judge(ctx context.Context, run db.Run, results []runner.Result, base *baselineRun) (*IngestReply, error) {
	verdicts, stored, err := g.evaluate(ctx, run.Project, results, base)
	if err != nil {
		return nil, err
	}
	if base != nil {
		run.Baseline = &db.RunBaseline{RunID: base.ref.RunID, Source: base.ref.Source}
	}
	var baseID int64
	if base != nil {
		baseID = base.ref.RunID
	}
	rep := g.reply(run, verdicts, nil)
	ids, err := g.store.InsertAlerts(ctx, run.ID, baseID, fired(verdicts, stored))
	switch {
	case err == nil:
		rep.Alerts = ids
	case errors.Is(err, db.ErrConflict):
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
	return rep, nil
}

// evaluate compares results with base and applies the project's thresholds (the stored ones,
// or the defaults when it has none). It stores nothing; it also returns the stored thresholds.
func (g *Ingester) evaluate(ctx context.Context, project string, results []runner.Result, base *baselineRun) ([]runner.Verdict, []db.Threshold, error) {
	v, stored, _, err := g.compare(ctx, project, results, base)
	return v, stored, err
}

// compare is evaluate that also returns the comparisons (their New is each result's summary).
func (g *Ingester) compare(ctx context.Context, project string, results []runner.Result, base *baselineRun) ([]runner.Verdict, []db.Threshold, []runner.Comparison, error) {
	stored, err := g.store.ListThresholds(ctx, project)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading thresholds: %w", err)
	}
	ths := runner.DefaultThresholds()
	if len(stored) > 0 {
		ths = make([]runner.Threshold, len(stored))
		for i, t := range stored {
			ths[i] = t.Threshold
		}
	}
	rules, err := g.rules.compile(ths)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("compiling thresholds of %s: %w", project, err)
	}
	cmps := make([]runner.Comparison, len(results))
	for i := range results {
		var old *runner.Result
		if base != nil {
			old = base.results[[2]string{results[i].Name, results[i].Unit}]
		}
		cmps[i] = runner.Compare(old, &results[i], g.Options)
	}
	return rules.Evaluate(cmps, g.Options), stored, cmps, nil
}

// Judge returns a stored run's verdicts and what it was compared with (nil when nothing): the
// ones stored with it, or, for a run stored without them, a comparison with the baseline it
// would get now. It stores nothing: pages use it.
func (g *Ingester) Judge(ctx context.Context, run db.Run, results []db.Result) ([]runner.Verdict, *BaselineRef, error) {
	if v, ok := storedVerdicts(results); ok && len(results) > 0 {
		if run.Baseline == nil {
			return v, nil, nil
		}
		return v, &BaselineRef{RunID: run.Baseline.RunID, Source: run.Baseline.Source}, nil
	}
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
	open, err := g.store.OpenAlertsOfSeries(ctx, run)
	if err != nil {
		return err
	}
	for _, a := range open {
		k := key{a.Benchmark, a.Unit}
		v, measured := now[k]
		if !measured || !backWithin(a, v, dir[k]) {
			continue
		}
		if err := g.store.ResolveAlert(ctx, a.ID); err != nil && !errors.Is(err, db.ErrConflict) {
			return fmt.Errorf("resolving alert %d: %w", a.ID, err)
		}
		g.log.InfoContext(ctx, "alert resolved", "alert_id", a.ID, "run_id", run.ID, "benchmark", a.Benchmark, "unit", a.Unit)
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
