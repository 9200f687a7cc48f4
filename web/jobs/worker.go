package jobs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// Worker works run jobs: checkout, run the suite — interleaved with the job's baseline commit
// when there is one — and submit the run (db.Store.Submit judges and stores it, with its alert
// changes, in one transaction).
type Worker struct {
	river.WorkerDefaults[RunArgs]
	// Store judges and stores runs (required).
	Store *db.Store
	// Repos is the repository cache (required).
	Repos *RepoCache
	// DefaultRepo is cloned when a job names no repository.
	DefaultRepo string
	// Testbed names this machine's runs. Default "goos/goarch/cpu" from the benchmark output.
	Testbed string
	// JobSeconds, when non-nil, records job durations by kind and outcome.
	JobSeconds *prometheus.HistogramVec
	// JobFailures, when non-nil, counts failed attempts by kind and outcome (queue.go).
	JobFailures *prometheus.CounterVec
	// Log receives the job's progress.
	Log *slog.Logger
	// Run runs a suite (default runner.Run); tests replace it to run a small package.
	Run func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error)

	timeout time.Duration
	inTemp  bool // Run already keeps its files beside the worktree (queue.go)
}

// Timeout bounds one job (Config.JobTimeout).
func (w *Worker) Timeout(*river.Job[RunArgs]) time.Duration { return w.timeout }

// Work runs one job. Errors are retried by River (up to the job's MaxAttempts); a job that
// can never succeed (unknown suite) is cancelled instead. The run is stored with idempotency
// key "river-job-<id>", so an attempt that stored its run before dying is not stored twice.
//
// The baseline commit (the job's Before, else Store.InterleaveCommit) is built in a second
// worktree and its benchmarks alternate with the new commit's, turn by turn, so both sides
// see the same machine; the run is judged against that side (index-paired samples), and
// the baseline's samples are kept with the run's results. Without a baseline commit — or
// when it is the job's own commit — the run is judged against stored runs, and its verdicts
// name which.
func (w *Worker) Work(ctx context.Context, job *river.Job[RunArgs]) (err error) {
	start := time.Now()
	a := job.Args
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("job_id", job.ID, "attempt", job.Attempt, "project", a.Project, "branch", a.Branch, "commit", a.Commit, "suite", a.Suite)
	defer func() {
		outcome := "ok"
		switch {
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			outcome = "cancelled"
		case err != nil:
			outcome = "error"
		}
		if w.JobSeconds != nil {
			w.JobSeconds.WithLabelValues("run", outcome).Observe(time.Since(start).Seconds())
		}
		log.Info("job finished", "outcome", outcome, "duration", time.Since(start).String(), "error", errString(err))
	}()
	repo := a.Repo
	if repo == "" {
		repo = w.DefaultRepo
	}
	dir, sha, cleanup, err := w.Repos.Checkout(ctx, repo, a.Branch, a.Commit, "job-"+strconv.FormatInt(job.ID, 10))
	defer cleanup()
	if err != nil {
		return err
	}
	log.Info("job started", "dir", dir, "sha", sha)
	proj, err := runner.LoadProject(filepath.Join(dir, "benchd.yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		proj, err = runner.DefaultProject(), nil
	}
	if err != nil {
		return river.JobCancel(fmt.Errorf("reading benchd.yaml at %s: %w", sha, err))
	}
	suite, ok := proj.Suites[a.Suite]
	if !ok {
		return river.JobCancel(fmt.Errorf("suite %q is not defined in benchd.yaml at %s (have %v)", a.Suite, sha, proj.SuiteNames()))
	}
	before := a.Before
	if before == "" {
		if before, err = w.Store.InterleaveCommit(ctx, a.Project, a.Branch); err != nil {
			return err
		}
	}
	if before != "" && strings.HasPrefix(sha, before) {
		before = "" // the baseline is this very commit: nothing to interleave
	}
	run := w.Run
	if run == nil {
		run = runner.Run
	}
	// Interleaved, the suite's against: sampling applies, as for `benchd run --against`.
	cfg := suite.RunConfig(dir, before)
	res, err := run(ctx, cfg)
	if err != nil && before != "" {
		// The baseline commit may not build (or not exist here): measure the new one alone.
		log.Warn("interleaved run failed; measuring the commit alone", "before", before, "error", err.Error())
		before = ""
		res, err = run(ctx, suite.RunConfig(dir, ""))
	}
	if errors.Is(err, runner.ErrNoValgrind) {
		// No retry installs valgrind: say what to do, once.
		return river.JobCancel(fmt.Errorf("running suite %s at %s: %w, or set the suite's measure: time", a.Suite, sha, err))
	}
	if err != nil {
		return fmt.Errorf("running suite %s at %s: %w", a.Suite, sha, err)
	}
	res.New.SetUnits(proj.Units)
	if len(res.New.Results) == 0 {
		return river.JobCancel(fmt.Errorf("suite %s at %s produced no results (%d benchmarks failed)", a.Suite, sha, len(res.New.Failures)))
	}
	trigger := db.Trigger(a.Trigger)
	if trigger == "" {
		trigger = db.TriggerSchedule
	}
	tb := db.TestbedOf(res.New.Config)
	if w.Testbed != "" {
		tb.Name = w.Testbed
	}
	sub := db.Submission{Project: a.Project, Branch: a.Branch, Testbed: tb, Commit: sha, Trigger: trigger, Suite: a.Suite,
		StartedAt: start.UTC(), FinishedAt: time.Now().UTC(), Config: res.New.Config, Results: res.New.Results,
		IdempotencyKey: "river-job-" + strconv.FormatInt(job.ID, 10), Thresholds: proj.Thresholds, Options: proj.Options}
	if before != "" && res.Old != nil {
		res.Old.SetUnits(proj.Units)
		sub.Interleaved = &db.Interleaved{Ref: before, Commit: before, Results: res.Old.Results, Unpaired: proj.Unpaired || !res.Paired}
	}
	// What git knows of the commit, stored before the run so that the run's pages have it from the start (a courtesy: a failure is only logged).
	if msg, at, ok := runner.CommitInfo(ctx, dir, sha); ok {
		if err := w.Store.SetCommit(ctx, a.Project, db.Commit{SHA: sha, Message: msg, CommittedAt: at}); err != nil {
			log.Warn("storing the commit's message", "error", err.Error())
		}
	}
	j, err := w.Store.Submit(ctx, sub)
	if errors.Is(err, db.ErrInvalid) {
		return river.JobCancel(fmt.Errorf("suite %s at %s produced no storable run: %w", a.Suite, sha, err))
	}
	if err != nil {
		return fmt.Errorf("storing run: %w", err)
	}
	counts := map[runner.Status]int{}
	for _, v := range j.Verdicts {
		counts[v.Status]++
	}
	label := "no baseline"
	if j.Baseline != nil {
		label = j.Baseline.Label
	}
	log.Info("run stored", "run_id", j.Run.ID, "created", j.Created, "baseline", label,
		"regressed", counts[runner.StatusRegressed], "warnings", counts[runner.StatusWarning], "alert_changes", len(j.Alerts))
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
