package web

import (
	"context"
	"strconv"
	"time"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// submit judges and stores a posted run through db.Store.Submit — the one owner of judging a
// run, which the worker and `benchd run` call alike — and returns the reply; with saveAs the
// run is named that baseline in the same transaction. created is false when the idempotency
// key was used before (the reply is then the first run's).
func (s *Server) submit(ctx context.Context, project string, in *RunInput, saveAs string) (rep *IngestReply, created bool, err error) {
	sub := db.Submission{Project: project, Branch: in.Branch, Testbed: testbedOf(in), Commit: in.Commit,
		Trigger: db.Trigger(in.Trigger), Suite: in.Suite, StartedAt: in.StartedAt, FinishedAt: in.FinishedAt,
		Config: in.Config, IdempotencyKey: in.IdempotencyKey, Results: in.Results, Baseline: in.Baseline,
		StartPoint: db.StartPoint{Branch: in.StartPoint, Commit: in.StartPointCommit},
		Thresholds: s.cfg.Thresholds, Options: s.cfg.Options, SaveBaseline: saveAs}
	if sub.StartedAt.IsZero() {
		sub.StartedAt = time.Now().UTC()
	}
	if sub.FinishedAt.IsZero() || sub.FinishedAt.Before(sub.StartedAt) {
		sub.FinishedAt = sub.StartedAt
	}
	j, err := s.store.Submit(ctx, sub)
	if err != nil {
		return nil, false, err
	}
	if j.Created && s.metrics != nil {
		s.metrics.IngestedRuns.WithLabelValues(in.Trigger).Inc()
		s.metrics.IngestedResults.Add(float64(len(in.Results)))
	}
	rep = s.reply(j)
	for _, f := range in.Failures {
		rep.Failures = append(rep.Failures, FailureView{Name: f.Name, Pkg: f.Pkg, Kind: string(f.Kind), Message: f.Message, Line: f.Line})
	}
	if j.Created {
		s.log.InfoContext(ctx, "run stored", "run_id", j.Run.ID, "project", project, "branch", j.Run.Branch,
			"testbed", j.Run.Testbed, "results", len(in.Results), "status", rep.Status, "baseline", rep.BaselineLabel(),
			"alerts", len(rep.Alerts))
	}
	return rep, j.Created, nil
}

// reply builds the answer to a posted run from its judgement.
func (s *Server) reply(j db.Judged) *IngestReply {
	rep := &IngestReply{RunID: j.Run.ID, URL: s.runURL(j.Run.ID), Verdicts: make([]VerdictView, len(j.Verdicts)),
		Alerts: []int64{}, AlertChanges: []AlertChangeView{}, Counts: map[string]int{}}
	for i, v := range j.Verdicts {
		rep.Verdicts[i] = verdictView(v)
		rep.Counts[string(v.Status)]++
	}
	rep.Status = worst(rep.Counts)
	rep.Baseline = baselineRef(j.Baseline)
	for _, a := range j.Alerts {
		if a.Action != runner.AlertResolve {
			rep.Alerts = append(rep.Alerts, a.ID)
		}
		rep.AlertChanges = append(rep.AlertChanges, AlertChangeView{ID: a.ID, Action: string(a.Action), Name: a.Name, Unit: a.Unit, Rule: a.Rule})
	}
	return rep
}

// baselineRef is the view of what a run was compared with (nil: nothing).
func baselineRef(b *db.RunBaseline) *BaselineRef {
	if b == nil {
		return nil
	}
	return &BaselineRef{RunID: b.RunID, Source: b.Source, Label: b.Label, Commit: b.Commit}
}

// storedJudgement returns a stored run's verdicts (db.StoredVerdicts, in results' order) and
// what it was compared with: pages never judge a run again.
func storedJudgement(run db.Run, results []db.Result) ([]runner.Verdict, *BaselineRef) {
	return db.StoredVerdicts(run, results), baselineRef(run.Baseline)
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

// testbedOf is the testbed of a posted run: its config lines' fingerprint, named as posted.
func testbedOf(in *RunInput) db.Testbed {
	tb := db.TestbedOf(in.Config)
	tb.Name = in.Testbed
	return tb
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
