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

// NewAlert is a verdict that fired, for a result of a run. Verdict.Rule must be one of
// regression, upper, lower, scaling, changepoint.
type NewAlert struct {
	runner.Verdict
	// ThresholdID is the stored rule that fired (0 = none, e.g. a default rule).
	ThresholdID int64
}

// Alert is a stored alert with the run and result it is about.
type Alert struct {
	ID            int64
	ResultID      int64
	RunID         int64
	Project       string
	Branch        string
	Testbed       string
	Commit        string
	Benchmark     string
	Unit          string
	Rule          string
	ThresholdID   int64 // 0 when none (or deleted since)
	BaselineRunID int64 // 0 when none
	Value         float64
	Baseline      float64
	Limit         float64
	Delta         float64
	P             float64
	Note          string
	Status        AlertStatus
	CreatedAt     time.Time
	// AcknowledgedAt and ResolvedAt are zero until then.
	AcknowledgedAt time.Time
	ResolvedAt     time.Time
}

// InsertAlerts stores one active alert per entry for run runID (against baselineRunID, 0 =
// none), all or nothing, and returns their IDs in the order given. An entry naming no result of
// the run returns ErrInvalid; an alert of the same rule for the same result ErrConflict.
func (s *Store) InsertAlerts(ctx context.Context, runID, baselineRunID int64, alerts []NewAlert) ([]int64, error) {
	if len(alerts) == 0 {
		return []int64{}, nil
	}
	var ids []int64
	err := s.inTx(ctx, func(q *dbsqlc.Queries) error {
		var err error
		ids, err = insertAlerts(ctx, q, runID, baselineRunID, alerts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// insertAlerts stores alerts with q (InsertAlerts, and InsertRun in the run's transaction).
func insertAlerts(ctx context.Context, q *dbsqlc.Queries, runID, baselineRunID int64, alerts []NewAlert) ([]int64, error) {
	p := dbsqlc.AlertInsertManyParams{RunID: runID, BaselineRunID: pgInt8(baselineRunID)}
	for _, a := range alerts {
		p.Names = append(p.Names, a.Name)
		p.Units = append(p.Units, a.Unit)
		p.Rules = append(p.Rules, a.Rule)
		p.ThresholdIds = append(p.ThresholdIds, a.ThresholdID)
		p.Vals = append(p.Vals, a.Value)
		p.BaselineVals = append(p.BaselineVals, a.Baseline)
		p.Limits = append(p.Limits, a.Limit)
		p.Deltas = append(p.Deltas, a.Delta)
		p.Ps = append(p.Ps, a.P)
		p.Notes = append(p.Notes, a.Note)
	}
	ids, err := q.AlertInsertMany(ctx, p)
	if err != nil {
		return nil, mapError(err, "inserting %d alerts of run %d", len(alerts), runID)
	}
	if len(ids) != len(alerts) {
		return nil, fmt.Errorf("inserting alerts of run %d: %w: %d of %d name no result of the run",
			runID, ErrInvalid, len(alerts)-len(ids), len(alerts))
	}
	return ids, nil
}

// OpenAlertsOfSeries returns the active and acknowledged alerts of the runs older than run
// on its branch and testbed, oldest first (empty when none). Only ID, RunID, Benchmark, Unit,
// Rule, Baseline, Limit and Status are set: what deciding whether run resolves them needs.
func (s *Store) OpenAlertsOfSeries(ctx context.Context, run Run) ([]Alert, error) {
	rows, err := s.q.AlertListOpenOfSeries(ctx, dbsqlc.AlertListOpenOfSeriesParams{ProjectID: run.ProjectID,
		BranchID: run.BranchID, TestbedID: run.TestbedID, Before: run.ID})
	if err != nil {
		return nil, mapError(err, "listing open alerts before run %d", run.ID)
	}
	out := make([]Alert, len(rows))
	for i, r := range rows {
		out[i] = Alert{ID: r.ID, RunID: r.RunID, Project: run.Project, Branch: run.Branch, Testbed: run.Testbed,
			Benchmark: r.Benchmark, Unit: r.Unit, Rule: r.Rule, Baseline: r.BaselineValue, Limit: r.LimitValue,
			Status: AlertStatus(r.Status)}
	}
	return out, nil
}

// AlertFilter selects alerts for ListAlerts. Empty fields do not filter.
type AlertFilter struct {
	Project string
	Status  AlertStatus
	RunID   int64
	// Before, when non-zero, returns only alerts with a smaller ID (the next page).
	Before int64
	// Limit caps the result; 0 means 50, and it is at most 1000.
	Limit int
}

// ListAlerts returns alerts newest first (empty when none match).
func (s *Store) ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	rows, err := s.q.AlertList(ctx, dbsqlc.AlertListParams{Project: pgText(f.Project), Status: pgText(string(f.Status)),
		RunID: pgInt8(f.RunID), Before: pgInt8(f.Before), Lim: limit(f.Limit, 50, 1000)})
	if err != nil {
		return nil, mapError(err, "listing alerts")
	}
	out := make([]Alert, len(rows))
	for i, r := range rows {
		out[i] = Alert{ID: r.ID, ResultID: r.ResultID, RunID: r.RunID, Project: r.Project, Branch: r.Branch,
			Testbed: r.Testbed, Commit: r.CommitSha, Benchmark: r.Benchmark, Unit: r.Unit, Rule: r.Rule,
			ThresholdID: int8Val(r.ThresholdID), BaselineRunID: int8Val(r.BaselineRunID), Value: r.Value,
			Baseline: r.BaselineValue, Limit: r.LimitValue, Delta: r.Delta, P: r.P, Note: r.Note,
			Status: AlertStatus(r.Status), CreatedAt: ts(r.CreatedAt), AcknowledgedAt: ts(r.AcknowledgedAt),
			ResolvedAt: ts(r.ResolvedAt)}
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
			ResolvedAt: ts(r.ResolvedAt)}
	}
	return out, nil
}
