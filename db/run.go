package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/benchd/benchd/db/internal/dbsqlc"
	"github.com/benchd/benchd/runner"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Trigger says what started a run.
type Trigger string

// The triggers the schema accepts.
const (
	TriggerCLI      Trigger = "cli"
	TriggerCI       Trigger = "ci"
	TriggerSchedule Trigger = "schedule"
	TriggerWebhook  Trigger = "webhook"
)

// RunStatus is a run's state.
type RunStatus string

// The run states the schema accepts. Only done runs appear in histories.
const (
	RunRunning RunStatus = "running"
	RunDone    RunStatus = "done"
	RunFailed  RunStatus = "failed"
)

// NewResult is one result to store: the raw samples and their summary (runner computes it).
// Summary.N must equal len(Samples) and Lo ≤ Median ≤ Hi, or the database refuses the run; an
// interval that could not be computed (a bound ±Inf or NaN, as runner gives with fewer than 6
// samples) is stored as NULL and read back as -Inf, +Inf.
type NewResult struct {
	runner.Result
	Summary runner.Summary
	// Verdict is the result's judgement against the run's baseline and thresholds, stored
	// with it (nil: not judged; readers judge it when they need to). Non-finite figures are
	// stored as 0 and P is clamped to [0, 1].
	Verdict *runner.Verdict
	// BaselineSamples are the samples of the same benchmark measured interleaved with this
	// one (nil: none).
	BaselineSamples []float64
}

// NewRun is a run to store with all its results.
type NewRun struct {
	Project string // created when missing
	Branch  string // created when missing
	Testbed Testbed
	Commit  string
	Trigger Trigger
	Suite   string
	// Status defaults to RunDone.
	Status RunStatus
	// StartedAt defaults to now; FinishedAt is zero when unknown.
	StartedAt  time.Time
	FinishedAt time.Time
	Config     []runner.ConfigLine
	// IdempotencyKey, when non-empty, is unique per project: InsertRun refuses a second run
	// with the same key (ErrConflict) and RunByIdempotencyKey returns the first.
	IdempotencyKey string
	Results        []NewResult
	// Baseline is what the run was compared with (nil: nothing, or not judged).
	Baseline *RunBaseline
}

// RunBaseline is what a run was compared with, and why it was chosen.
type RunBaseline struct {
	// RunID is the (newest) stored run of the baseline; 0 for an interleaved side.
	RunID int64
	// Source is runner.Baseline.Source: "baseline:NAME", "start_point:BRANCH",
	// "history:BRANCH", "interleaved:COMMIT" ("previous:BRANCH" from older benchd versions).
	Source string
	// Label is runner.Baseline.Label: "baseline main (run 12)", "history of main (5 runs, 30–34)".
	Label string
	// Commit is the baseline's commit ("" when unknown).
	Commit string
}

// Run is a stored run (without its results: see Results).
type Run struct {
	ID             int64
	ProjectID      int64
	Project        string
	BranchID       int64
	Branch         string
	TestbedID      int64
	Testbed        string
	Commit         string
	Trigger        Trigger
	Suite          string
	Status         RunStatus
	StartedAt      time.Time
	FinishedAt     time.Time // zero when unknown
	Config         []runner.ConfigLine
	IdempotencyKey string
	CreatedAt      time.Time
	ResultCount    int
	// Baseline is what the run was compared with when it was stored (nil: nothing, or it
	// was stored without a judgement).
	Baseline *RunBaseline
}

// Result is a stored result.
type Result struct {
	ID    int64
	RunID int64
	runner.Result
	// Summary is the stored median and 95% CI (Lo -Inf and Hi +Inf when the interval could
	// not be computed, as runner.Summarize gives them); Warnings are not stored.
	Summary runner.Summary
	// Verdict is the judgement stored with the result (nil when it was stored without one).
	Verdict *runner.Verdict
	// BaselineSamples are the samples of the baseline side measured interleaved with this
	// result, index-paired with Samples (nil when the run was not measured interleaved).
	BaselineSamples []float64
}

type configJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// InsertRun stores a run and all its results, as given, in one transaction: either everything
// is stored or nothing is (a refused result, a cancelled ctx or a lost connection leave no
// trace). It judges nothing: it is for imports and tests; runs that are measured or posted go
// through Submit, which judges them. Results go in with one COPY. A reused idempotency key
// returns an error wrapping ErrConflict and stores nothing. Two results with the same name and
// unit, or a refused value, return ErrInvalid.
func (s *Store) InsertRun(ctx context.Context, nr NewRun) (Run, error) {
	var run Run
	err := s.inTx(ctx, func(q *dbsqlc.Queries) error {
		ids, err := ensureSeries(ctx, q, nr.Project, nr.Branch, nr.Testbed)
		if err != nil {
			return err
		}
		run, err = insertRun(ctx, q, ids, nr)
		return err
	})
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return Run{}, err
	}
	return run, nil
}

// insertRun stores nr with q in series ids (InsertRun, and Submit in its transaction).
func insertRun(ctx context.Context, q *dbsqlc.Queries, ids dbsqlc.SeriesLookupRow, nr NewRun) (Run, error) {
	if nr.Status == "" {
		nr.Status = RunDone
	}
	if nr.StartedAt.IsZero() {
		nr.StartedAt = time.Now()
	}
	nr.StartedAt, nr.FinishedAt = dbTime(nr.StartedAt), dbTime(nr.FinishedAt)
	type key struct{ name, unit string }
	seen := make(map[key]struct{}, len(nr.Results))
	for _, r := range nr.Results {
		k := key{r.Name, r.Unit}
		if _, dup := seen[k]; dup {
			return Run{}, fmt.Errorf("inserting run: %w: two results for %s in %s", ErrInvalid, r.Name, r.Unit)
		}
		seen[k] = struct{}{}
	}
	cfg := make([]configJSON, len(nr.Config))
	for i, c := range nr.Config {
		cfg[i] = configJSON(c)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return Run{}, fmt.Errorf("inserting run: encoding config: %w", err)
	}
	params := dbsqlc.RunInsertParams{
		ProjectID: ids.ProjectID, BranchID: ids.BranchID, TestbedID: ids.TestbedID, CommitSha: nr.Commit,
		Trigger: string(nr.Trigger), Suite: nr.Suite, Status: string(nr.Status),
		StartedAt: pgTime(nr.StartedAt), FinishedAt: pgTime(nr.FinishedAt), Config: cfgJSON,
		IdempotencyKey: pgText(nr.IdempotencyKey),
	}
	if b := nr.Baseline; b != nil {
		params.BaselineRunID, params.BaselineSource = pgInt8(b.RunID), b.Source
		params.BaselineCommit, params.BaselineLabel = b.Commit, b.Label
	}
	ins, err := q.RunInsert(ctx, params)
	if errors.Is(err, pgx.ErrNoRows) {
		return Run{}, fmt.Errorf("inserting run: idempotency key %q of project %q is taken: %w", nr.IdempotencyKey, nr.Project, ErrConflict)
	}
	if err != nil {
		return Run{}, mapError(err, "inserting run")
	}
	id := ins.ID
	run := Run{ID: id, ProjectID: ids.ProjectID, Project: nr.Project, BranchID: ids.BranchID, Branch: nr.Branch,
		TestbedID: ids.TestbedID, Testbed: nr.Testbed.Name, Commit: nr.Commit, Trigger: nr.Trigger, Suite: nr.Suite, Status: nr.Status,
		StartedAt: nr.StartedAt, FinishedAt: nr.FinishedAt, Config: slices.Clone(nr.Config),
		IdempotencyKey: nr.IdempotencyKey, CreatedAt: ts(ins.CreatedAt), ResultCount: len(nr.Results)}
	if nr.Baseline != nil {
		b := *nr.Baseline
		run.Baseline = &b
	}
	rows := make([]dbsqlc.ResultInsertManyParams, len(nr.Results))
	for i, r := range nr.Results {
		rows[i] = dbsqlc.ResultInsertManyParams{RunID: id, Name: r.Name, Procs: int32(r.Procs),
			Unit: r.Unit, Better: int16(r.Better), Samples: r.Samples, N: int32(r.Summary.N),
			Median: r.Summary.Median, P: 1, BaselineSamples: r.BaselineSamples}
		rows[i].CiLo, rows[i].CiHi = ciBounds(r.Summary)
		if r.Samples == nil {
			rows[i].Samples = []float64{} // NOT NULL would report it as missing, the CHECK as empty
		}
		if v := r.Verdict; v != nil {
			row := &rows[i]
			row.VerdictStatus, row.VerdictRule, row.VerdictNote = pgText(string(v.Status)), v.Rule, v.Note
			row.BaselineValue, row.LimitValue, row.Delta = finite(v.Baseline), finite(v.Limit), finite(v.Delta)
			row.P = min(max(finite(v.P), 0), 1)
		}
	}
	if _, err := q.ResultInsertMany(ctx, rows); err != nil {
		return Run{}, mapError(err, "inserting %d results of run %d", len(rows), id)
	}
	return run, nil
}

// RunByIdempotencyKey returns the run of project stored with key, or ErrNotFound.
func (s *Store) RunByIdempotencyKey(ctx context.Context, project, key string) (Run, error) {
	id, err := s.q.RunGetByIdempotencyKey(ctx, dbsqlc.RunGetByIdempotencyKeyParams{Name: project, IdempotencyKey: pgText(key)})
	if err != nil {
		return Run{}, mapError(err, "looking up run with idempotency key %q of %q", key, project)
	}
	return s.GetRun(ctx, id)
}

// GetRun returns run id, or ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id int64) (Run, error) {
	r, err := s.q.RunGet(ctx, id)
	if err != nil {
		return Run{}, mapError(err, "getting run %d", id)
	}
	return runFrom(dbsqlc.RunListRow(r))
}

// RunFilter selects runs for ListRuns. Empty fields do not filter.
type RunFilter struct {
	Project string
	Branch  string
	Testbed string
	// Before, when non-zero, returns only runs with a smaller ID (the next page after the
	// last run of the previous one).
	Before int64
	// Limit caps the result; 0 means 50, and it is at most 1000.
	Limit int
}

// ListRuns returns runs newest (highest ID) first; an empty slice when none match.
func (s *Store) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	rows, err := s.q.RunList(ctx, dbsqlc.RunListParams{Project: pgText(f.Project), Branch: pgText(f.Branch),
		Testbed: pgText(f.Testbed), Before: pgInt8(f.Before), Lim: limit(f.Limit, 50, 1000)})
	if err != nil {
		return nil, mapError(err, "listing runs")
	}
	out := make([]Run, 0, len(rows))
	for _, r := range rows {
		run, err := runFrom(r)
		if err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

// DeleteRun deletes run id with its results and alerts (ErrNotFound when missing).
func (s *Store) DeleteRun(ctx context.Context, id int64) error {
	n, err := s.q.RunDelete(ctx, id)
	if err != nil {
		return mapError(err, "deleting run %d", id)
	}
	if n == 0 {
		return fmt.Errorf("deleting run %d: %w", id, ErrNotFound)
	}
	return nil
}

// Results returns the results of run id by name and unit (empty when the run has none or does
// not exist).
func (s *Store) Results(ctx context.Context, runID int64) ([]Result, error) {
	rows, err := s.q.ResultListByRun(ctx, runID)
	if err != nil {
		return nil, mapError(err, "listing results of run %d", runID)
	}
	out := make([]Result, len(rows))
	for i, r := range rows {
		out[i] = Result{ID: r.ID, RunID: r.RunID,
			Result:  runner.Result{Name: r.Name, Procs: int(r.Procs), Unit: r.Unit, Better: runner.Direction(r.Better), Samples: r.Samples},
			Summary: runner.Summary{Median: r.Median, N: int(r.N)}, BaselineSamples: r.BaselineSamples}
		out[i].Summary.Lo, out[i].Summary.Hi = ciFrom(r.CiLo, r.CiHi)
		if r.VerdictStatus.Valid {
			out[i].Verdict = &runner.Verdict{Name: r.Name, Unit: r.Unit, Status: runner.Status(r.VerdictStatus.String),
				Rule: r.VerdictRule, Value: r.Median, Baseline: r.BaselineValue, Limit: r.LimitValue, Delta: r.Delta,
				P: r.P, Note: r.VerdictNote}
		}
	}
	return out, nil
}

// HistoryQuery names one benchmark series: a benchmark and unit on a project's branch and
// testbed.
type HistoryQuery struct {
	Project, Branch, Testbed string
	Name, Unit               string
	// Limit is the number of newest points; 0 means 100, and it is at most 10000.
	Limit int
}

// HistoryPoint is a benchmark's summary in one run.
type HistoryPoint struct {
	RunID     int64
	ResultID  int64
	Commit    string
	StartedAt time.Time
	Median    float64
	// Lo and Hi are the 95% CI: -Inf and +Inf when it could not be computed.
	Lo, Hi float64
	N      int
	// Status, Baseline, Delta and P are the result's stored verdict against its run's
	// baseline (Status "" and P 1 when it was stored without one; Baseline 0 when there was
	// nothing to compare with).
	Status   string
	Baseline float64
	Delta    float64
	P        float64
	// BaselineLabel names what the run was compared with ("baseline main (run 12)"; "" when
	// nothing or not recorded).
	BaselineLabel string
}

// BenchmarkHistory returns the newest Limit points of a series of done runs, oldest first
// (chart order); an empty slice when nothing matches (unknown names included).
func (s *Store) BenchmarkHistory(ctx context.Context, h HistoryQuery) ([]HistoryPoint, error) {
	rows, err := s.q.BenchmarkHistory(ctx, dbsqlc.BenchmarkHistoryParams{Name: h.Name, Unit: h.Unit,
		Project: h.Project, Branch: h.Branch, Testbed: h.Testbed, Lim: limit(h.Limit, 100, 10000)})
	if err != nil {
		return nil, mapError(err, "reading history of %s (%s)", h.Name, h.Unit)
	}
	out := make([]HistoryPoint, len(rows))
	for i, r := range rows {
		out[len(rows)-1-i] = HistoryPoint{RunID: r.RunID, ResultID: r.ResultID, Commit: r.CommitSha, StartedAt: ts(r.StartedAt),
			Median: r.Median, N: int(r.N), Status: r.VerdictStatus.String, Baseline: r.BaselineValue, Delta: r.Delta, P: r.P,
			BaselineLabel: r.BaselineLabel}
		out[len(rows)-1-i].Lo, out[len(rows)-1-i].Hi = ciFrom(r.CiLo, r.CiHi)
	}
	return out, nil
}

func runFrom(r dbsqlc.RunListRow) (Run, error) {
	var cfg []configJSON
	if err := json.Unmarshal(r.Config, &cfg); err != nil {
		return Run{}, fmt.Errorf("decoding config of run %d: %w", r.ID, err)
	}
	lines := make([]runner.ConfigLine, len(cfg))
	for i, c := range cfg {
		lines[i] = runner.ConfigLine(c)
	}
	run := Run{ID: r.ID, ProjectID: r.ProjectID, Project: r.Project, BranchID: r.BranchID, Branch: r.Branch,
		TestbedID: r.TestbedID, Testbed: r.Testbed, Commit: r.CommitSha, Trigger: Trigger(r.Trigger),
		Suite: r.Suite, Status: RunStatus(r.Status), StartedAt: ts(r.StartedAt), FinishedAt: ts(r.FinishedAt),
		Config: lines, IdempotencyKey: r.IdempotencyKey.String, CreatedAt: ts(r.CreatedAt),
		ResultCount: int(r.ResultCount)}
	if r.BaselineRunID.Valid || r.BaselineSource != "" {
		run.Baseline = &RunBaseline{RunID: r.BaselineRunID.Int64, Source: r.BaselineSource, Label: r.BaselineLabel, Commit: r.BaselineCommit}
	}
	return run, nil
}

// LatestRunWithResults returns the id of the newest done run with results of a project's
// branch on a testbed (by start time), among runs with an id below before (0: all); ErrNotFound
// when there is none. It is what a run is compared with when no baseline is named.
func (s *Store) LatestRunWithResults(ctx context.Context, project, branch, testbed string, before int64) (int64, error) {
	id, err := s.q.RunLatestWithResults(ctx, dbsqlc.RunLatestWithResultsParams{Project: project, Branch: branch,
		Testbed: testbed, Before: pgInt8(before)})
	if err != nil {
		return 0, mapError(err, "finding the latest run of %s/%s on %s", project, branch, testbed)
	}
	return id, nil
}

// Trend is the medians of one benchmark and unit over recent runs, oldest first.
type Trend struct {
	Name, Unit string
	Medians    []float64
}

// Trends returns the medians of every benchmark and unit over the newest runs (at most 1000;
// 0 means 20) done on run's branch and testbed up to run itself, by start time, in one query;
// empty when there are none.
func (s *Store) Trends(ctx context.Context, run Run, runs int) ([]Trend, error) {
	rows, err := s.q.ResultMediansOfLatestRuns(ctx, dbsqlc.ResultMediansOfLatestRunsParams{ProjectID: run.ProjectID,
		BranchID: run.BranchID, TestbedID: run.TestbedID, Newest: run.ID, Runs: limit(runs, 20, 1000)})
	if err != nil {
		return nil, mapError(err, "reading the trends up to run %d", run.ID)
	}
	type key struct{ name, unit string }
	at := map[key]int{}
	var out []Trend
	for _, r := range rows {
		k := key{r.Name, r.Unit}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, Trend{Name: r.Name, Unit: r.Unit})
		}
		out[i].Medians = append(out[i].Medians, r.Median)
	}
	return out, nil
}

// ciBounds returns the stored form of a summary's 95% confidence interval: NULL for both
// bounds when it could not be computed (runner gives ±Inf with fewer than 6 samples; NaN).
func ciBounds(s runner.Summary) (lo, hi pgtype.Float8) {
	if math.IsInf(s.Lo, 0) || math.IsNaN(s.Lo) || math.IsInf(s.Hi, 0) || math.IsNaN(s.Hi) {
		return pgtype.Float8{}, pgtype.Float8{}
	}
	return pgtype.Float8{Float64: s.Lo, Valid: true}, pgtype.Float8{Float64: s.Hi, Valid: true}
}

// ciFrom returns a stored interval as runner represents it: -Inf and +Inf when there is none.
func ciFrom(lo, hi pgtype.Float8) (float64, float64) {
	if !lo.Valid || !hi.Valid {
		return math.Inf(-1), math.Inf(1)
	}
	return lo.Float64, hi.Float64
}

// finite returns v, or 0 when it is NaN or infinite.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func limit(n, def, most int) int32 {
	if n <= 0 {
		return int32(def)
	}
	return int32(min(n, most))
}

// Benchmark is one series' identity: a benchmark measured in one unit.
type Benchmark struct {
	Name   string
	Unit   string
	Better runner.Direction
	// Runs is how many of the runs looked at measured it.
	Runs int
}

// ListBenchmarks returns the benchmarks measured in the newest runs (0 means 50, at most
// 1000) done on a branch and testbed, by name and unit (empty when none).
func (s *Store) ListBenchmarks(ctx context.Context, project, branch, testbed string, runs int) ([]Benchmark, error) {
	rows, err := s.q.BenchmarkList(ctx, dbsqlc.BenchmarkListParams{Project: project, Branch: branch,
		Testbed: testbed, Runs: limit(runs, 50, 1000)})
	if err != nil {
		return nil, mapError(err, "listing benchmarks of %s/%s on %s", project, branch, testbed)
	}
	out := make([]Benchmark, len(rows))
	for i, r := range rows {
		out[i] = Benchmark{Name: r.Name, Unit: r.Unit, Better: runner.Direction(r.Better), Runs: int(r.Runs)}
	}
	return out, nil
}

// ensureSeries returns the ids of a run's project, branch and testbed: one query when all
// exist with the same fingerprint (the common case), else the ensure helpers create or update
// them.
func ensureSeries(ctx context.Context, q *dbsqlc.Queries, project, branch string, tb Testbed) (dbsqlc.SeriesLookupRow, error) {
	r, err := q.SeriesLookup(ctx, dbsqlc.SeriesLookupParams{Project: project, Branch: branch, Testbed: tb.Name})
	if err == nil && pick(tb.GOOS, r.Goos) == r.Goos && pick(tb.GOARCH, r.Goarch) == r.Goarch &&
		pick(tb.CPU, r.Cpu) == r.Cpu && pick(tb.GoVersion, r.GoVersion) == r.GoVersion {
		return r, nil
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return r, mapError(err, "looking up project %q, branch %q and testbed %q", project, branch, tb.Name)
	}
	p, err := ensureProject(ctx, q, project)
	if err != nil {
		return r, mapError(err, "ensuring project %q", project)
	}
	b, err := ensureBranch(ctx, q, p.ID, branch)
	if err != nil {
		return r, mapError(err, "ensuring branch %q", branch)
	}
	t, err := ensureTestbed(ctx, q, tb)
	if err != nil {
		return r, mapError(err, "ensuring testbed %q", tb.Name)
	}
	return dbsqlc.SeriesLookupRow{ProjectID: p.ID, BranchID: b.ID, TestbedID: t.ID}, nil
}
