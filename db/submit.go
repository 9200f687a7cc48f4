package db

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/benchd/benchd/db/internal/dbsqlc"
	"github.com/benchd/benchd/runner"
	"github.com/jackc/pgx/v5"
)

// Judgement windows of Submit (docs/methodology.md, "Baselines" and "Change points").
const (
	// HistoryRuns is how many of a series' newest runs the change-point rule looks at.
	HistoryRuns = 30
	// PooledRuns is how many of a branch's newest runs a recent-history baseline pools.
	PooledRuns = 5
	// DefaultBranch is the start point of a branch that names none and has no runs yet.
	DefaultBranch = "main"
)

// StartPoint is the branch a branch was forked from, and the fork commit when known.
type StartPoint struct {
	Branch string
	Commit string
}

// Interleaved is the other side of an interleaved measurement: a commit built and run in
// alternate turns with the submitted run's, on the same machine.
type Interleaved struct {
	// Ref is what was asked for ("main", a push's before); Commit its resolved id.
	Ref, Commit string
	// Results are its samples, index-paired with the run's.
	Results []runner.Result
}

// Submission is a measured run to judge and store with Submit.
type Submission struct {
	Project string // created when missing
	Branch  string // created when missing
	Testbed Testbed
	Commit  string
	Trigger Trigger
	Suite   string
	// StartedAt defaults to now; FinishedAt is zero when unknown.
	StartedAt, FinishedAt time.Time
	Config                []runner.ConfigLine
	// IdempotencyKey, when non-empty, is unique per project: a second submission with the
	// same key stores nothing and is answered with the first one's judgement.
	IdempotencyKey string
	Results        []runner.Result
	// Baseline names the baseline to compare with; "" means the one named like the branch
	// when there is one. A name that does not exist (on this testbed) is ErrInvalid.
	Baseline string
	// StartPoint is the branch this branch was forked from (zero: the one recorded with the
	// branch, else DefaultBranch for a branch with no runs yet). A given one is recorded.
	StartPoint StartPoint
	// Interleaved, when non-nil, is what the run is compared with (it wins over the rest).
	Interleaved *Interleaved
	// Thresholds are the project file's rules; the database's rules of the project win, and
	// runner.DefaultThresholds apply when neither has any (runner.RuleSource).
	Thresholds []runner.Threshold
	// Options are the statistics settings (zero: runner's defaults).
	Options runner.Options
	// SaveBaseline, when set, names the stored run as this baseline, in the same transaction.
	SaveBaseline string
	// DryRun judges the run exactly as Submit would store it, then stores nothing.
	DryRun bool
}

// Judged is a submitted run with its judgement.
type Judged struct {
	Run Run
	// Created is false when the idempotency key was used before: Run and Verdicts are the
	// first submission's, Comparisons are empty.
	Created bool
	// Comparisons (empty for a replay) and Verdicts are in the order of the results.
	Comparisons []runner.Comparison
	Verdicts    []runner.Verdict
	// Baseline is what the run was compared with (nil: nothing).
	Baseline *RunBaseline
	// RuleSource says where the rules came from: "database", "project file" or "defaults".
	RuleSource string
	// Alerts are the alerts the run opened, updated or resolved.
	Alerts []AlertChange
}

// AlertChange is what a submitted run did to one alert.
type AlertChange struct {
	ID         int64
	Action     runner.AlertAction
	Name, Unit string
	Rule       string
}

// Submit judges a run and stores it in one transaction: the run, its results with their
// verdicts, what it was compared with and its alert changes — all of it or nothing (a run whose
// submitter was told it failed is never stored). The judgement is runner.Judge over what one
// round of queries under the series' lock loads: the rules, the baseline candidates (the
// interleaved side, the named baseline, the branch's start point, its recent history) and the
// series' history and open alerts. Errors: ErrInvalid for values the database refuses or a
// missing named baseline, ErrConflict never for a reused idempotency key (that is a replay).
func (s *Store) Submit(ctx context.Context, sub Submission) (Judged, error) {
	if sub.IdempotencyKey != "" && !sub.DryRun {
		if j, err := s.replay(ctx, sub.Project, sub.IdempotencyKey); !errors.Is(err, ErrNotFound) {
			return j, err
		}
	}
	if sub.StartedAt.IsZero() {
		sub.StartedAt = time.Now()
	}
	if len(sub.Results) == 0 {
		return Judged{}, fmt.Errorf("submitting run: %w: no results", ErrInvalid)
	}
	var out Judged
	errDryRun := errors.New("dry run")
	err := s.inTx(ctx, func(q *dbsqlc.Queries) error {
		ids, err := ensureSeries(ctx, q, sub.Project, sub.Branch, sub.Testbed)
		if err != nil {
			return err
		}
		if err := q.SeriesLock(ctx, dbsqlc.SeriesLockParams{ProjectID: ids.ProjectID, BranchID: ids.BranchID, TestbedID: ids.TestbedID}); err != nil {
			return mapError(err, "locking the series of %s/%s", sub.Project, sub.Branch)
		}
		in, source, stored, err := s.judgeInput(ctx, q, ids, &sub)
		if err != nil {
			return err
		}
		j := runner.Judge(in)
		out = Judged{Created: true, Comparisons: j.Comparisons, Verdicts: j.Verdicts, RuleSource: source}
		nr := NewRun{Project: sub.Project, Branch: sub.Branch, Testbed: sub.Testbed, Commit: sub.Commit,
			Trigger: sub.Trigger, Suite: sub.Suite, StartedAt: sub.StartedAt, FinishedAt: sub.FinishedAt,
			Config: sub.Config, IdempotencyKey: sub.IdempotencyKey, Results: make([]NewResult, len(sub.Results))}
		var paired map[runner.SeriesKey][]float64
		if sub.Interleaved != nil {
			paired = map[runner.SeriesKey][]float64{}
			for _, r := range sub.Interleaved.Results {
				paired[runner.SeriesKey{Name: r.Name, Unit: r.Unit}] = r.Samples
			}
		}
		for i, r := range sub.Results {
			nr.Results[i] = NewResult{Result: r, Summary: j.Comparisons[i].New, Verdict: &j.Verdicts[i],
				BaselineSamples: paired[runner.SeriesKey{Name: r.Name, Unit: r.Unit}]}
		}
		if b := in.Baseline; b != nil {
			nr.Baseline = &RunBaseline{Source: b.Source(), Label: b.Label(), Commit: b.Commit}
			if len(b.RunIDs) > 0 {
				nr.Baseline.RunID = b.RunIDs[0]
			}
		}
		run, err := insertRun(ctx, q, ids, nr)
		if err != nil {
			return err
		}
		out.Run, out.Baseline = run, run.Baseline
		if out.Alerts, err = applyAlerts(ctx, q, run, in.History, j, stored); err != nil {
			return err
		}
		if sub.SaveBaseline != "" {
			if _, err := q.BaselineSet(ctx, dbsqlc.BaselineSetParams{Name: sub.SaveBaseline, RunID: run.ID, Project: sub.Project}); err != nil {
				return mapError(err, "naming run %d baseline %q", run.ID, sub.SaveBaseline)
			}
		}
		if sub.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		out.Run.ID, out.Alerts = 0, nil
		return out, nil
	}
	if errors.Is(err, ErrConflict) && sub.IdempotencyKey != "" {
		// A concurrent submission with the same key won the race: answer with its run.
		return s.replay(ctx, sub.Project, sub.IdempotencyKey)
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return Judged{}, err
	}
	return out, nil
}

// judgeInput loads what runner.Judge needs for sub, in the series' transaction.
// It also returns the project's stored thresholds (the alerts name the one that fired).
func (s *Store) judgeInput(ctx context.Context, q *dbsqlc.Queries, ids dbsqlc.SeriesLookupRow, sub *Submission) (runner.JudgeInput, string, []Threshold, error) {
	in := runner.JudgeInput{Results: sub.Results, Options: sub.Options}
	rows0, err := q.ThresholdList(ctx, sub.Project)
	if err != nil {
		return in, "", nil, mapError(err, "listing thresholds of %q", sub.Project)
	}
	stored := make([]Threshold, len(rows0))
	dbRules := make([]runner.Threshold, len(rows0))
	for i, t := range rows0 {
		stored[i] = thresholdFrom(t, sub.Project)
		dbRules[i] = stored[i].Threshold
	}
	ths, source := runner.RuleSource(dbRules, sub.Thresholds)
	if in.Rules, err = runner.NewRules(ths); err != nil {
		return in, "", nil, fmt.Errorf("%w: the %s's thresholds: %w", ErrInvalid, source, err)
	}

	// History: the change-point window and the recent-history baseline, in one query.
	rows, err := q.SeriesHistory(ctx, dbsqlc.SeriesHistoryParams{Sampled: PooledRuns, ProjectID: ids.ProjectID,
		BranchID: ids.BranchID, TestbedID: ids.TestbedID, At: pgTime(dbTime(sub.StartedAt)), Runs: HistoryRuns})
	if err != nil {
		return in, "", nil, mapError(err, "reading the history of %s/%s", sub.Project, sub.Branch)
	}
	var pooled [][]runner.Result
	var pooledIDs []int64
	for _, r := range rows {
		if n := len(in.History); n == 0 || in.History[n-1].RunID != r.RunID {
			in.History = append(in.History, runner.HistoryRun{RunID: r.RunID, Commit: r.CommitSha, StartedAt: ts(r.StartedAt),
				Medians: map[runner.SeriesKey]float64{}})
			if r.Samples != nil {
				pooled = append(pooled, nil)
				pooledIDs = append(pooledIDs, r.RunID)
			}
		}
		in.History[len(in.History)-1].Medians[runner.SeriesKey{Name: r.Name, Unit: r.Unit}] = r.Median
		if r.Samples != nil {
			pooled[len(pooled)-1] = append(pooled[len(pooled)-1], runner.Result{Name: r.Name, Procs: int(r.Procs),
				Unit: r.Unit, Better: runner.Direction(r.Better), Samples: r.Samples})
		}
	}
	var cands runner.BaselineCandidates
	if len(pooled) > 0 {
		slices.Reverse(pooled) // newest first
		slices.Reverse(pooledIDs)
		cands.History = &runner.Baseline{Kind: runner.BaselineHistory, Name: sub.Branch, RunIDs: pooledIDs,
			Results: runner.PoolResults(pooled), Commit: in.History[len(in.History)-1].Commit}
	}

	if iv := sub.Interleaved; iv != nil {
		cands.Interleaved = &runner.Baseline{Kind: runner.BaselineInterleaved, Name: cmp.Or(iv.Commit, iv.Ref),
			Commit: iv.Commit, Results: iv.Results, Paired: true}
	}

	named, err := s.namedBaseline(ctx, q, ids, sub)
	if err != nil {
		return in, "", nil, err
	}
	cands.Named = named

	sp, err := s.startPoint(ctx, q, ids, sub, len(in.History) == 0)
	if err != nil {
		return in, "", nil, err
	}
	cands.StartPoint = sp

	in.Baseline = runner.ChooseBaseline(cands)

	open, err := q.AlertListOpenOfBranch(ctx, dbsqlc.AlertListOpenOfBranchParams{ProjectID: ids.ProjectID, BranchID: ids.BranchID, TestbedID: ids.TestbedID})
	if err != nil {
		return in, "", nil, mapError(err, "listing the open alerts of %s/%s", sub.Project, sub.Branch)
	}
	for _, a := range open {
		in.Open = append(in.Open, runner.OpenAlert{ID: a.ID, Name: a.Benchmark, Unit: a.Unit, Rule: a.Rule,
			Acknowledged: a.Status == string(AlertAcknowledged), Baseline: a.BaselineValue, Limit: a.LimitValue})
	}
	return in, source, stored, nil
}

// namedBaseline returns the named baseline candidate of sub: the one asked for (ErrInvalid when
// it does not exist on the testbed) or the one named like the branch (nil when none).
func (s *Store) namedBaseline(ctx context.Context, q *dbsqlc.Queries, ids dbsqlc.SeriesLookupRow, sub *Submission) (*runner.Baseline, error) {
	name := cmp.Or(sub.Baseline, sub.Branch)
	r, err := q.BaselineRunOf(ctx, dbsqlc.BaselineRunOfParams{ProjectID: ids.ProjectID, Name: name, TestbedID: ids.TestbedID})
	if errors.Is(err, pgx.ErrNoRows) {
		if sub.Baseline == "" {
			return nil, nil
		}
		exists, xerr := q.BaselineExists(ctx, dbsqlc.BaselineExistsParams{ProjectID: ids.ProjectID, Name: name})
		if xerr != nil {
			return nil, mapError(xerr, "looking up baseline %q", name)
		}
		if exists {
			return nil, fmt.Errorf("%w: baseline %q of project %q was measured on another testbed than %q (comparisons stay within one)", ErrInvalid, name, sub.Project, sub.Testbed.Name)
		}
		return nil, fmt.Errorf("%w: project %q has no baseline %q", ErrInvalid, sub.Project, name)
	}
	if err != nil {
		return nil, mapError(err, "reading baseline %q", name)
	}
	rs, err := storedResults(ctx, q, r.ID)
	if err != nil {
		return nil, err
	}
	return &runner.Baseline{Kind: runner.BaselineNamed, Name: name, RunIDs: []int64{r.ID}, Commit: r.CommitSha, Results: rs}, nil
}

// startPoint records sub's start point with its branch when it names one, and returns the
// start point candidate: the start branch's run at the fork (nil when the branch has no start
// point, or the start branch no run on the testbed). A branch with neither a recorded start
// point nor runs of its own starts from DefaultBranch.
func (s *Store) startPoint(ctx context.Context, q *dbsqlc.Queries, ids dbsqlc.SeriesLookupRow, sub *Submission, noHistory bool) (*runner.Baseline, error) {
	cur, err := q.BranchStartPointGet(ctx, ids.BranchID)
	if err != nil {
		return nil, mapError(err, "reading the start point of branch %q", sub.Branch)
	}
	sp := StartPoint{Branch: cur.StartBranch, Commit: cur.StartCommit}
	if b := sub.StartPoint.Branch; b != "" && b != sub.Branch && (b != sp.Branch || sub.StartPoint.Commit != sp.Commit) {
		sp = sub.StartPoint
		if err := q.BranchStartPointSet(ctx, dbsqlc.BranchStartPointSetParams{StartBranch: sp.Branch, StartCommit: sp.Commit, ID: ids.BranchID}); err != nil {
			return nil, mapError(err, "recording the start point of branch %q", sub.Branch)
		}
	}
	implicit := false
	if sp.Branch == "" {
		if !noHistory || sub.Branch == DefaultBranch {
			return nil, nil
		}
		sp.Branch, implicit = DefaultBranch, true
	}
	r, err := q.RunStartPoint(ctx, dbsqlc.RunStartPointParams{ProjectID: ids.ProjectID, StartBranch: sp.Branch,
		TestbedID: ids.TestbedID, StartCommit: sp.Commit, BranchID: ids.BranchID, At: pgTime(dbTime(sub.StartedAt))})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, mapError(err, "finding the start point %s of branch %q", sp.Branch, sub.Branch)
	}
	if implicit {
		// A new branch that named no start point forked from DefaultBranch: remember it, so
		// that its later runs are compared with the same fork.
		if err := q.BranchStartPointSet(ctx, dbsqlc.BranchStartPointSetParams{StartBranch: sp.Branch, StartCommit: r.CommitSha, ID: ids.BranchID}); err != nil {
			return nil, mapError(err, "recording the start point of branch %q", sub.Branch)
		}
	}
	rs, err := storedResults(ctx, q, r.ID)
	if err != nil {
		return nil, err
	}
	return &runner.Baseline{Kind: runner.BaselineStartPoint, Name: sp.Branch, RunIDs: []int64{r.ID}, Commit: r.CommitSha, Results: rs}, nil
}

// storedResults returns the raw results of run id.
func storedResults(ctx context.Context, q *dbsqlc.Queries, id int64) ([]runner.Result, error) {
	rows, err := q.ResultListByRun(ctx, id)
	if err != nil {
		return nil, mapError(err, "reading the results of run %d", id)
	}
	out := make([]runner.Result, len(rows))
	for i, r := range rows {
		out[i] = runner.Result{Name: r.Name, Procs: int(r.Procs), Unit: r.Unit, Better: runner.Direction(r.Better), Samples: r.Samples}
	}
	return out, nil
}

// applyAlerts stores the alert changes of judgement j of run (history is the judgement's).
func applyAlerts(ctx context.Context, q *dbsqlc.Queries, run Run, history []runner.HistoryRun, j runner.Judgement, stored []Threshold) ([]AlertChange, error) {
	runAt := func(i int) int64 {
		if i < 0 || i >= len(history) {
			return run.ID
		}
		return history[i].RunID
	}
	var out []AlertChange
	for _, c := range j.Alerts {
		v := c.Verdict
		ch := AlertChange{ID: c.ID, Action: c.Action, Name: v.Name, Unit: v.Unit, Rule: c.Rule}
		switch c.Action {
		case runner.AlertOpen:
			p := dbsqlc.AlertOpenParams{Rule: v.Rule, Value: finite(v.Value), BaselineValue: finite(v.Baseline),
				LimitValue: finite(v.Limit), Delta: finite(v.Delta), P: min(max(finite(v.P), 0), 1), Note: v.Note,
				LastRunID: pgInt8(run.ID), FirstBadRunID: runAt(c.FirstBad), Name: v.Name, Unit: v.Unit,
				ThresholdID: pgInt8(thresholdID(stored, v))}
			if run.Baseline != nil {
				p.BaselineRunID = pgInt8(run.Baseline.RunID)
			}
			if c.LastGood >= 0 {
				p.LastGoodRunID = pgInt8(runAt(c.LastGood))
			}
			id, err := q.AlertOpen(ctx, p)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // that run's result already had an alert of this rule: the change was alerted
			}
			if err != nil {
				return nil, mapError(err, "opening a %s alert for %s (%s) in run %d", v.Rule, v.Name, v.Unit, run.ID)
			}
			ch.ID = id
		case runner.AlertUpdate:
			if err := q.AlertSeen(ctx, dbsqlc.AlertSeenParams{RunID: pgInt8(run.ID), Value: finite(v.Value), Delta: finite(v.Delta), ID: c.ID}); err != nil {
				return nil, mapError(err, "updating alert %d with run %d", c.ID, run.ID)
			}
		case runner.AlertResolve:
			if err := q.AlertResolveByRun(ctx, dbsqlc.AlertResolveByRunParams{RunID: pgInt8(run.ID), ID: c.ID}); err != nil {
				return nil, mapError(err, "resolving alert %d with run %d", c.ID, run.ID)
			}
		}
		if err := q.AlertEventInsert(ctx, dbsqlc.AlertEventInsertParams{AlertID: ch.ID, RunID: run.ID, Action: string(ch.Action)}); err != nil {
			return nil, mapError(err, "recording what run %d did to alert %d", run.ID, ch.ID)
		}
		out = append(out, ch)
	}
	return out, nil
}

// replay returns the judgement stored with the run of project's idempotency key (ErrNotFound
// when there is none): its verdicts and what it did to alerts, as the first answer said.
func (s *Store) replay(ctx context.Context, project, key string) (Judged, error) {
	run, err := s.RunByIdempotencyKey(ctx, project, key)
	if err != nil {
		return Judged{}, err
	}
	results, err := s.Results(ctx, run.ID)
	if err != nil {
		return Judged{}, err
	}
	// Results are stored in the order submitted (one COPY), so their ids give that order.
	slices.SortFunc(results, func(a, b Result) int { return cmp.Compare(a.ID, b.ID) })
	j := Judged{Run: run, Baseline: run.Baseline, Verdicts: StoredVerdicts(run, results)}
	events, err := s.q.AlertEventsOfRun(ctx, run.ID)
	if err != nil {
		return Judged{}, mapError(err, "reading what run %d did to alerts", run.ID)
	}
	for _, e := range events {
		j.Alerts = append(j.Alerts, AlertChange{ID: e.AlertID, Action: runner.AlertAction(e.Action), Name: e.Name, Unit: e.Unit, Rule: e.Rule})
	}
	return j, nil
}

// StoredVerdicts returns the verdicts stored with results of run, in results' order, each
// naming the run's baseline; a result stored without one (by InsertRun, or an older benchd)
// is "unknown", noted "stored without a judgement": nothing judges a stored run again.
func StoredVerdicts(run Run, results []Result) []runner.Verdict {
	out := make([]runner.Verdict, len(results))
	for i, r := range results {
		if r.Verdict == nil {
			out[i] = runner.Verdict{Name: r.Name, Unit: r.Unit, Status: runner.StatusUnknown, Value: r.Summary.Median, P: 1,
				Note: "stored without a judgement", Better: r.Better}
			continue
		}
		out[i] = *r.Verdict
		out[i].Better = r.Better
		if run.Baseline != nil {
			out[i].Against = run.Baseline.Label
		}
	}
	return out
}

// InterleaveCommit returns the commit a job on project's branch measures interleaved as its
// baseline when it names none: the commit of the baseline named like the branch, else the
// branch's recorded fork commit, else the commit of its start branch's newest run; "" when
// none is known (the run is then judged against stored runs only).
func (s *Store) InterleaveCommit(ctx context.Context, project, branch string) (string, error) {
	c, err := s.q.BranchInterleaveCommit(ctx, dbsqlc.BranchInterleaveCommitParams{Project: project, Branch: branch})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", mapError(err, "finding the baseline commit of %s/%s", project, branch)
	}
	return c, nil
}

// thresholdID finds the stored rule a verdict applied: same kind and limit, matching unit and
// benchmark pattern (0 when none, e.g. a default rule or the change-point rule).
func thresholdID(stored []Threshold, v runner.Verdict) int64 {
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
