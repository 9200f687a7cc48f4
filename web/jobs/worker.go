package jobs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/benchd/benchd/runner"
	"github.com/benchd/benchd/web"
)

// Worker works run jobs: checkout, run the suite, store the run once, raise alerts.
type Worker struct {
	river.WorkerDefaults[RunArgs]
	// Ingester stores and judges runs (required).
	Ingester *web.Ingester
	// Repos is the repository cache (required).
	Repos *RepoCache
	// DefaultRepo is cloned when a job names no repository.
	DefaultRepo string
	// Testbed names this machine's runs. Default "goos/goarch/cpu" from the benchmark output.
	Testbed string
	// Metrics, when non-nil, records job durations and outcomes.
	Metrics *web.Metrics
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
		if w.Metrics != nil {
			w.Metrics.JobSeconds.WithLabelValues("run", outcome).Observe(time.Since(start).Seconds())
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
	run := w.Run
	if run == nil {
		run = runner.Run
	}
	res, err := run(ctx, runner.RunConfig{Dir: dir, Package: suite.Package, Bench: suite.Bench, Count: suite.Count,
		Benchtime: suite.Benchtime, Timeout: suite.Timeout})
	if err != nil {
		return fmt.Errorf("running suite %s at %s: %w", a.Suite, sha, err)
	}
	res.New.SetUnits(proj.Units)
	in := &web.RunInput{Branch: a.Branch, Commit: sha, Testbed: w.Testbed, Trigger: a.Trigger, Suite: a.Suite,
		StartedAt: start.UTC(), FinishedAt: time.Now().UTC(), Config: res.New.Config, Results: res.New.Results,
		Failures: res.New.Failures, IdempotencyKey: "river-job-" + strconv.FormatInt(job.ID, 10)}
	if in.Trigger == "" {
		in.Trigger = "schedule"
	}
	if err := in.Validate(0); err != nil {
		return river.JobCancel(fmt.Errorf("suite %s at %s produced no storable run: %w", a.Suite, sha, err))
	}
	g := *w.Ingester
	g.Options = proj.Options
	rep, created, err := g.Ingest(ctx, a.Project, in)
	if err != nil {
		return fmt.Errorf("storing run: %w", err)
	}
	log.Info("run stored", "run_id", rep.RunID, "created", created, "status", rep.Status, "alerts", len(rep.Alerts))
	// This is background work already: the change-point rule runs here rather than as a job.
	if ids, err := g.ChangePointAlerts(ctx, rep.RunID); err != nil {
		return fmt.Errorf("change points of run %d: %w", rep.RunID, err)
	} else if len(ids) > 0 {
		log.Info("change-point alerts", "run_id", rep.RunID, "alerts", len(ids))
	}
	return nil
}

// ChangePointWorker runs the change-point rule after a run is stored.
type ChangePointWorker struct {
	river.WorkerDefaults[ChangePointArgs]
	run *Worker // its Ingester is read at work time (cmd/benchd sets it after NewClient)
	log *slog.Logger
}

// Work raises the change-point alerts of the job's run.
func (w *ChangePointWorker) Work(ctx context.Context, job *river.Job[ChangePointArgs]) error {
	ids, err := w.run.Ingester.ChangePointAlerts(ctx, job.Args.RunID)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		w.log.Info("change-point alerts", "run_id", job.Args.RunID, "alerts", len(ids))
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
