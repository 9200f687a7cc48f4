package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/robfig/cron/v3"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// RunArgs are the arguments of a run job: a db.RunJob under River's kind "benchd_run".
type RunArgs struct {
	db.RunJob
}

// Kind is River's name for run jobs.
func (RunArgs) Kind() string { return "benchd_run" }

// InsertOpts gives run jobs their queue and attempts.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueRuns, MaxAttempts: 3}
}

// changePointKind is the kind of the change-point jobs of benchd before version 4 of its
// schema: the rule is now part of every run's judgement, and such jobs left in the queue are
// completed without work.
const changePointKind = "benchd_changepoints"

type changePointArgs struct {
	RunID int64 `json:"run_id"`
}

func (changePointArgs) Kind() string { return changePointKind }

// InsertOpts keeps the old kind on its old queue.
func (changePointArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: queueAnalysis} }

// queueAnalysis is the queue of the old change-point jobs.
const queueAnalysis = "benchd_analysis"

// QueueRuns is the River queue of run jobs.
const QueueRuns = "benchd_runs"

// Config configures the job client.
type Config struct {
	// Concurrency is how many run jobs one process runs at once. Default 1: benchmarks want a
	// quiet machine.
	Concurrency int
	// JobTimeout bounds one run job (checkout, build, benchmarks, storing). Default 1h.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before River hands it to another worker
	// (its worker was killed). Default JobTimeout + 5m.
	RescueAfter time.Duration
	// Schedule, when set, queues ScheduledJob periodically: an interval ("6h", "@every 30m")
	// or a 5-field cron expression ("0 3 * * *", UTC).
	Schedule string
	// ScheduledJob is the job the schedule queues (Trigger is set to "schedule").
	ScheduledJob db.RunJob
	// FetchPollInterval is how often an idle worker looks for jobs when no notification
	// arrives. Default 1s.
	FetchPollInterval time.Duration
}

// ParseSchedule parses an interval ("90m", "@every 6h") or a standard 5-field cron
// expression (UTC) into a River schedule. It refuses intervals under a minute.
func ParseSchedule(s string) (river.PeriodicSchedule, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "@every ")); err == nil {
		if d < time.Minute {
			return nil, fmt.Errorf("schedule %q: an interval must be at least 1m", s)
		}
		return river.PeriodicInterval(d), nil
	}
	sched, err := cron.ParseStandard(s)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: neither an interval (6h) nor a cron expression (0 3 * * *): %w", s, err)
	}
	return sched, nil
}

// ErrPermanent marks an error that no retry can fix (a commit the repository does not
// have): the job is cancelled at once, with the error recorded in River's job errors,
// instead of being retried and discarded.
var ErrPermanent = errors.New("retrying cannot help")

// failures is River worker middleware that makes failed jobs visible: each error is logged
// (WARN when the job will be retried, ERROR when it is discarded or cancelled) and counted
// in benchd_job_failures_total, and an ErrPermanent error cancels the job. River records
// the error text in the job's errors either way.
type failures struct {
	river.MiddlewareDefaults
	w   *Worker // its JobFailures are read at work time (cmd/benchd sets them after NewClient)
	log *slog.Logger
}

func (f *failures) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	err := doInner(ctx)
	if err == nil {
		return nil
	}
	var ce *rivertype.JobCancelError
	if errors.Is(err, ErrPermanent) && !errors.As(err, &ce) {
		err = river.JobCancel(err)
	}
	outcome, level := "retried", slog.LevelWarn
	switch {
	case errors.As(err, &ce):
		outcome, level = "cancelled", slog.LevelError
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		outcome, level = "interrupted", slog.LevelInfo // shutting down: another worker retries it
	case job.Attempt >= job.MaxAttempts:
		outcome, level = "discarded", slog.LevelError
	}
	f.log.Log(ctx, level, "job failed", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt,
		"max_attempts", job.MaxAttempts, "outcome", outcome, "error", err.Error())
	if f.w.JobFailures != nil {
		f.w.JobFailures.WithLabelValues(job.Kind, outcome).Inc()
	}
	return err
}

// panics logs a job's panic at ERROR; River records it with its trace and retries the job.
type panics struct{ log *slog.Logger }

func (p panics) HandleError(context.Context, *rivertype.JobRow, error) *river.ErrorHandlerResult {
	return nil // failures has logged it
}

func (p panics) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	p.log.ErrorContext(ctx, "job panicked", "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "panic", fmt.Sprint(v), "trace", trace)
	return nil
}

// NewClient builds a River client on pool. With a nil worker the client only inserts jobs
// (the web tier of `serve --no-worker`); otherwise it also works them and, with a Schedule,
// queues periodic runs (only the elected leader among all clients inserts them).
func NewClient(pool *pgxpool.Pool, cfg Config, w *Worker, log *slog.Logger) (*river.Client[pgx.Tx], error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = time.Hour
	}
	if cfg.RescueAfter <= cfg.JobTimeout {
		cfg.RescueAfter = cfg.JobTimeout + 5*time.Minute
	}
	rc := &river.Config{
		Logger:               log.With("component", "river"),
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.FetchPollInterval,
		Workers:              river.NewWorkers(),
	}
	if w != nil {
		w.timeout = cfg.JobTimeout
		if w.Repos != nil {
			// A worker killed mid-job (SIGKILL, OOM) left its worktree and test binaries.
			if removed, err := w.Repos.Sweep(context.Background()); err != nil {
				log.Warn("sweeping leftovers of killed workers", "error", err.Error())
			} else if len(removed) > 0 {
				log.Info("removed leftovers of killed workers", "worktrees", removed)
			}
		}
		w.inTempDir()
		run := w.Run
		if run == nil {
			run = runner.Run
		}
		w.Run = reportProgress(run) // the jobs page shows how far a running job is
		rc.Middleware = []rivertype.Middleware{&failures{w: w, log: log}, &progressMiddleware{}}
		rc.ErrorHandler = panics{log: log}
		if err := river.AddWorkerSafely(rc.Workers, w); err != nil {
			return nil, fmt.Errorf("registering the run worker: %w", err)
		}
		if err := river.AddWorkerSafely(rc.Workers, river.WorkFunc(func(context.Context, *river.Job[changePointArgs]) error {
			return nil // the rule runs in every run's judgement now
		})); err != nil {
			return nil, fmt.Errorf("registering the old change-point kind: %w", err)
		}
		rc.Queues = map[string]river.QueueConfig{QueueRuns: {MaxWorkers: cfg.Concurrency}, queueAnalysis: {MaxWorkers: 1}}
		if cfg.Schedule != "" {
			sched, err := ParseSchedule(cfg.Schedule)
			if err != nil {
				return nil, err
			}
			job := cfg.ScheduledJob
			job.Trigger = "schedule"
			rc.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
				return RunArgs{job}, nil
			}, nil)}
		}
	} else {
		// An insert-only client still validates kinds against registered workers.
		river.AddWorker(rc.Workers, river.WorkFunc(func(context.Context, *river.Job[RunArgs]) error {
			return errors.New("this process does not work jobs")
		}))
		river.AddWorker(rc.Workers, river.WorkFunc(func(context.Context, *river.Job[changePointArgs]) error {
			return errors.New("this process does not work jobs")
		}))
	}
	c, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("creating the job client: %w", err)
	}
	return c, nil
}

// inTempDir makes the worker's suite runs keep their test binaries beside the job's worktree
// (<worktree>.tmp) rather than in the system's temporary directory, where a killed worker
// left a 7 MB binary for ever: RepoCache.Sweep removes them with the worktree.
func (w *Worker) inTempDir() {
	if w.inTemp {
		return
	}
	w.inTemp = true
	inner := w.Run
	if inner == nil {
		inner = runner.Run
	}
	w.Run = func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error) {
		tmp := filepath.Clean(cfg.Dir) + ".tmp"
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return nil, fmt.Errorf("creating the job's temporary directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		cfg.TempDir = tmp
		return inner(ctx, cfg)
	}
}

// Queue enqueues run jobs; it implements web.JobQueue.
type Queue struct {
	store  *db.Store
	client *river.Client[pgx.Tx]
}

// NewQueue returns a Queue inserting through client; webhook deliveries are recorded in store
// in the job's transaction.
func NewQueue(store *db.Store, client *river.Client[pgx.Tx]) *Queue {
	return &Queue{store: store, client: client}
}

// Enqueue queues job and returns its id.
func (q *Queue) Enqueue(ctx context.Context, job db.RunJob) (int64, error) {
	res, err := q.client.Insert(ctx, RunArgs{job}, nil)
	if err != nil {
		return 0, fmt.Errorf("queueing run of %s@%s: %w", job.Branch, job.Commit, err)
	}
	return res.Job.ID, nil
}

// EnqueueDelivery records a GitHub delivery id and queues its job in one transaction
// (Store.EnqueueWebhookDelivery with River's InsertTx), so a redelivered id (or two deliveries
// racing) makes no second job: duplicate is then true and jobID is the first delivery's job.
func (q *Queue) EnqueueDelivery(ctx context.Context, deliveryID, event string, job db.RunJob) (jobID int64, duplicate bool, err error) {
	return q.store.EnqueueWebhookDelivery(ctx, deliveryID, event, func(ctx context.Context, tx pgx.Tx) (int64, error) {
		res, err := q.client.InsertTx(ctx, tx, RunArgs{job}, nil)
		if err != nil {
			return 0, fmt.Errorf("queueing run for delivery %s: %w", deliveryID, err)
		}
		return res.Job.ID, nil
	})
}
