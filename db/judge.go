package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/benchd/benchd/db/internal/dbsqlc"
	"github.com/benchd/benchd/runner"
	"github.com/jackc/pgx/v5"
)

// Baseline is a named pointer of a project to one run ("main", "v1.2").
type Baseline struct {
	Name      string
	RunID     int64
	UpdatedAt time.Time
}

// SetBaseline points the project's baseline name at runID (creating or moving it). It returns
// ErrNotFound when the run does not exist or belongs to another project.
func (s *Store) SetBaseline(ctx context.Context, project, name string, runID int64) (Baseline, error) {
	r, err := s.q.BaselineSet(ctx, dbsqlc.BaselineSetParams{Name: name, RunID: runID, Project: project})
	if err != nil {
		return Baseline{}, mapError(err, "setting baseline %q of %q to run %d", name, project, runID)
	}
	return Baseline{Name: name, RunID: r.RunID, UpdatedAt: ts(r.UpdatedAt)}, nil
}

// GetBaseline returns the project's baseline name, or ErrNotFound.
func (s *Store) GetBaseline(ctx context.Context, project, name string) (Baseline, error) {
	r, err := s.q.BaselineGet(ctx, dbsqlc.BaselineGetParams{Project: project, Name: name})
	if err != nil {
		return Baseline{}, mapError(err, "getting baseline %q of %q", name, project)
	}
	return Baseline{Name: r.Name, RunID: r.RunID, UpdatedAt: ts(r.UpdatedAt)}, nil
}

// ListBaselines returns the project's baselines by name (empty when none).
func (s *Store) ListBaselines(ctx context.Context, project string) ([]Baseline, error) {
	rows, err := s.q.BaselineList(ctx, project)
	if err != nil {
		return nil, mapError(err, "listing baselines of %q", project)
	}
	out := make([]Baseline, len(rows))
	for i, r := range rows {
		out[i] = Baseline{Name: r.Name, RunID: r.RunID, UpdatedAt: ts(r.UpdatedAt)}
	}
	return out, nil
}

// DeleteBaseline removes the project's baseline name (ErrNotFound when missing).
func (s *Store) DeleteBaseline(ctx context.Context, project, name string) error {
	n, err := s.q.BaselineDelete(ctx, dbsqlc.BaselineDeleteParams{Project: project, Name: name})
	if err != nil {
		return mapError(err, "deleting baseline %q of %q", name, project)
	}
	if n == 0 {
		return fmt.Errorf("deleting baseline %q of %q: %w", name, project, ErrNotFound)
	}
	return nil
}

// Threshold is a stored rule of a project.
type Threshold struct {
	ID      int64
	Project string
	runner.Threshold
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CreateThreshold stores a rule for project (created when missing). A rule with the same
// benchmark, unit and kind returns ErrConflict; an unknown kind or a non-finite Warn ErrInvalid.
func (s *Store) CreateThreshold(ctx context.Context, project string, th runner.Threshold) (Threshold, error) {
	p, err := ensureProject(ctx, s.q, project)
	if err != nil {
		return Threshold{}, mapError(err, "ensuring project %q", project)
	}
	r, err := s.q.ThresholdInsert(ctx, dbsqlc.ThresholdInsertParams{ProjectID: p.ID, Benchmark: th.Benchmark,
		Unit: th.Unit, Kind: string(th.Kind), Warn: th.Warn, Note: th.Note})
	if err != nil {
		return Threshold{}, mapError(err, "creating threshold %s %s for %q", th.Kind, th.Benchmark, project)
	}
	return thresholdFrom(r, project), nil
}

// GetThreshold returns rule id, or ErrNotFound. Its Project is empty.
func (s *Store) GetThreshold(ctx context.Context, id int64) (Threshold, error) {
	r, err := s.q.ThresholdGet(ctx, id)
	if err != nil {
		return Threshold{}, mapError(err, "getting threshold %d", id)
	}
	return thresholdFrom(r, ""), nil
}

// ListThresholds returns the project's rules by benchmark, unit and kind (empty when none).
func (s *Store) ListThresholds(ctx context.Context, project string) ([]Threshold, error) {
	rows, err := s.q.ThresholdList(ctx, project)
	if err != nil {
		return nil, mapError(err, "listing thresholds of %q", project)
	}
	out := make([]Threshold, len(rows))
	for i, r := range rows {
		out[i] = thresholdFrom(r, project)
	}
	return out, nil
}

// UpdateThreshold replaces rule id's fields (ErrNotFound when missing).
func (s *Store) UpdateThreshold(ctx context.Context, id int64, th runner.Threshold) (Threshold, error) {
	r, err := s.q.ThresholdUpdate(ctx, dbsqlc.ThresholdUpdateParams{ID: id, Benchmark: th.Benchmark,
		Unit: th.Unit, Kind: string(th.Kind), Warn: th.Warn, Note: th.Note})
	if err != nil {
		return Threshold{}, mapError(err, "updating threshold %d", id)
	}
	return thresholdFrom(r, ""), nil
}

// DeleteThreshold removes rule id (ErrNotFound when missing).
func (s *Store) DeleteThreshold(ctx context.Context, id int64) error {
	n, err := s.q.ThresholdDelete(ctx, id)
	if err != nil {
		return mapError(err, "deleting threshold %d", id)
	}
	if n == 0 {
		return fmt.Errorf("deleting threshold %d: %w", id, ErrNotFound)
	}
	return nil
}

func thresholdFrom(r dbsqlc.Threshold, project string) Threshold {
	return Threshold{ID: r.ID, Project: project, CreatedAt: ts(r.CreatedAt), UpdatedAt: ts(r.UpdatedAt),
		Threshold: runner.Threshold{Benchmark: r.Benchmark, Unit: r.Unit, Kind: runner.ThresholdKind(r.Kind), Warn: r.Warn, Note: r.Note}}
}

// AlertStatus is an alert's state: active → acknowledged → resolved (or active → resolved).
type AlertStatus string

// The alert states.
const (
	AlertActive       AlertStatus = "active"
	AlertAcknowledged AlertStatus = "acknowledged"
	AlertResolved     AlertStatus = "resolved"
)

// Alert is a stored alert: one change of one series (a benchmark and unit on a branch and
// testbed), opened by the first run that showed it, updated by later runs that still show it,
// resolved by the first run back within limits (or acknowledged by a person).
type Alert struct {
	ID       int64
	ResultID int64 // the first bad run's result
	// RunID is the first bad run; Commit its commit.
	RunID     int64
	Project   string
	Branch    string
	Testbed   string
	Commit    string
	Benchmark string
	Unit      string
	Better    runner.Direction
	Rule      string
	// ThresholdID is the stored rule that fired (0 when none, or deleted since).
	ThresholdID int64
	// BaselineRunID is the run the first bad run was compared with (0 when none).
	BaselineRunID int64
	// Value is the first bad run's median, Baseline the value before the change, Limit the
	// rule's limit, Delta and P the first bad run's change and p-value.
	Value, Baseline, Limit, Delta, P float64
	Note                             string
	Status                           AlertStatus
	// LastGoodRunID is the series' newest run before the change (0: none); LastGoodCommit
	// its commit. The commit range of the change is LastGoodCommit..Commit.
	LastGoodRunID  int64
	LastGoodCommit string
	// LastRunID is the newest run that still showed the change, LastCommit its commit;
	// Runs how many runs showed it; LatestValue and LatestDelta that run's figures.
	LastRunID                int64
	LastCommit               string
	Runs                     int
	LatestValue, LatestDelta float64
	// ResolvedRunID is the run that showed the benchmark back within limits (0: none).
	ResolvedRunID int64
	// BaselineLabel names what the first bad run was judged against ("" when nothing).
	BaselineLabel string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// AcknowledgedAt and ResolvedAt are zero until then.
	AcknowledgedAt time.Time
	ResolvedAt     time.Time
}

// AlertFilter selects alerts for ListAlerts. Empty fields do not filter.
type AlertFilter struct {
	Project string
	Branch  string
	Testbed string
	Status  AlertStatus
	// RunID selects the alerts a run opened (its result is the alert's), updated or resolved.
	RunID int64
	// Before, when non-zero, returns only alerts with a smaller ID (the next page).
	Before int64
	// Limit caps the result; 0 means 50, and it is at most 1000.
	Limit int
}

// ListAlerts returns alerts newest first (empty when none match).
func (s *Store) ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	rows, err := s.q.AlertList(ctx, dbsqlc.AlertListParams{Project: pgText(f.Project), Status: pgText(string(f.Status)),
		RunID: pgInt8(f.RunID), Branch: pgText(f.Branch), Testbed: pgText(f.Testbed), Before: pgInt8(f.Before),
		Lim: limit(f.Limit, 50, 1000)})
	if err != nil {
		return nil, mapError(err, "listing alerts")
	}
	out := make([]Alert, len(rows))
	for i, r := range rows {
		out[i] = Alert{ID: r.ID, ResultID: r.ResultID, RunID: r.RunID, Project: r.Project, Branch: r.Branch,
			Testbed: r.Testbed, Commit: r.CommitSha, Benchmark: r.Benchmark, Unit: r.Unit, Better: runner.Direction(r.Better),
			Rule: r.Rule, ThresholdID: int8Val(r.ThresholdID), BaselineRunID: int8Val(r.BaselineRunID), Value: r.Value,
			Baseline: r.BaselineValue, Limit: r.LimitValue, Delta: r.Delta, P: r.P, Note: r.Note,
			Status: AlertStatus(r.Status), CreatedAt: ts(r.CreatedAt), AcknowledgedAt: ts(r.AcknowledgedAt),
			ResolvedAt: ts(r.ResolvedAt), LastGoodRunID: int8Val(r.LastGoodRunID), LastGoodCommit: r.LastGoodCommit,
			LastRunID: int8Val(r.LastRunID), LastCommit: r.LastCommit, Runs: int(r.Runs), LatestValue: r.LatestValue,
			LatestDelta: r.LatestDelta, ResolvedRunID: int8Val(r.ResolvedRunID), UpdatedAt: ts(r.UpdatedAt),
			BaselineLabel: r.BaselineLabel}
	}
	return out, nil
}

// AcknowledgeAlert moves an active alert to acknowledged. It returns ErrNotFound for a missing
// alert and ErrConflict for one that is not active.
func (s *Store) AcknowledgeAlert(ctx context.Context, id int64) error {
	n, err := s.q.AlertAcknowledge(ctx, id)
	return s.alertTransition(ctx, id, n, err, "acknowledging")
}

// ResolveAlert moves an active or acknowledged alert to resolved. It returns ErrNotFound for a
// missing alert and ErrConflict for one already resolved.
func (s *Store) ResolveAlert(ctx context.Context, id int64) error {
	n, err := s.q.AlertResolve(ctx, id)
	return s.alertTransition(ctx, id, n, err, "resolving")
}

func (s *Store) alertTransition(ctx context.Context, id, n int64, err error, doing string) error {
	if err != nil {
		return mapError(err, "%s alert %d", doing, id)
	}
	if n == 1 {
		return nil
	}
	status, err := s.q.AlertStatus(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s alert %d: %w", doing, id, ErrNotFound)
	}
	if err != nil {
		return mapError(err, "%s alert %d", doing, id)
	}
	return fmt.Errorf("%s alert %d: it is %s: %w", doing, id, status, ErrConflict)
}

// AlertsOfResults returns the alerts of the given results, newest first (empty when none). The
// run, result and verdict fields are set; Project, Branch, Testbed, Commit, Benchmark and Unit
// are not (the caller knows the results it asked about).
func (s *Store) AlertsOfResults(ctx context.Context, resultIDs []int64) ([]Alert, error) {
	if len(resultIDs) == 0 {
		return []Alert{}, nil
	}
	rows, err := s.q.AlertListByResults(ctx, resultIDs)
	if err != nil {
		return nil, mapError(err, "listing alerts of %d results", len(resultIDs))
	}
	out := make([]Alert, len(rows))
	for i, r := range rows {
		out[i] = Alert{ID: r.ID, ResultID: r.ResultID, RunID: r.RunID, Rule: r.Rule,
			ThresholdID: int8Val(r.ThresholdID), BaselineRunID: int8Val(r.BaselineRunID), Value: r.Value,
			Baseline: r.BaselineValue, Limit: r.LimitValue, Delta: r.Delta, P: r.P, Note: r.Note,
			Status: AlertStatus(r.Status), CreatedAt: ts(r.CreatedAt), AcknowledgedAt: ts(r.AcknowledgedAt),
			ResolvedAt: ts(r.ResolvedAt), LastGoodRunID: int8Val(r.LastGoodRunID), LastRunID: int8Val(r.LastRunID),
			ResolvedRunID: int8Val(r.ResolvedRunID), Runs: int(r.Runs), LatestValue: r.LatestValue,
			LatestDelta: r.LatestDelta, UpdatedAt: ts(r.UpdatedAt)}
	}
	return out, nil
}
