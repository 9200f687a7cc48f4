package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/benchd/benchd/web"
)

// RunArgs are the arguments of a run job: a web.RunJob under River's kind "benchd_run".
type RunArgs struct {
	web.RunJob
}

// Kind is River's name for run jobs.
func (RunArgs) Kind() string { return "benchd_run" }

// InsertOpts gives run jobs their queue and attempts.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueRuns, MaxAttempts: 3}
}

// ChangePointArgs are the arguments of a change-point job: the run whose series to search.
type ChangePointArgs struct {
	RunID int64 `json:"run_id"`
}

// Kind is River's name for change-point jobs.
func (ChangePointArgs) Kind() string { return "benchd_changepoints" }

// InsertOpts puts change-point jobs on their own queue, so they never wait behind a long
// benchmark run (and never run on a benchmark machine while it measures).
func (ChangePointArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueAnalysis, MaxAttempts: 5}
}

// QueueAnalysis is the River queue of change-point jobs.
const QueueAnalysis = "benchd_analysis"

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
	ScheduledJob web.RunJob
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
		run := w.Run
		if run == nil {
			run = runner.Run
		}
		w.Run = reportProgress(run) // the jobs page shows how far a running job is
		rc.Middleware = []rivertype.Middleware{&progressMiddleware{}}
		if err := river.AddWorkerSafely(rc.Workers, w); err != nil {
			return nil, fmt.Errorf("registering the run worker: %w", err)
		}
		if err := river.AddWorkerSafely(rc.Workers, &ChangePointWorker{run: w, log: log}); err != nil {
			return nil, fmt.Errorf("registering the change-point worker: %w", err)
		}
		rc.Queues = map[string]river.QueueConfig{QueueRuns: {MaxWorkers: cfg.Concurrency}, QueueAnalysis: {MaxWorkers: 1}}
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
		river.AddWorker(rc.Workers, river.WorkFunc(func(context.Context, *river.Job[ChangePointArgs]) error {
			return errors.New("this process does not work jobs")
		}))
	}
	c, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("creating the job client: %w", err)
	}
	return c, nil
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
func (q *Queue) Enqueue(ctx context.Context, job web.RunJob) (int64, error) {
	res, err := q.client.Insert(ctx, RunArgs{job}, nil)
	if err != nil {
		return 0, fmt.Errorf("queueing run of %s@%s: %w", job.Branch, job.Commit, err)
	}
	return res.Job.ID, nil
}

// EnqueueChangePoints queues the change-point rule for run runID.
func (q *Queue) EnqueueChangePoints(ctx context.Context, runID int64) error {
	if _, err := q.client.Insert(ctx, ChangePointArgs{RunID: runID}, nil); err != nil {
		return fmt.Errorf("queueing change points of run %d: %w", runID, err)
	}
	return nil
}

// EnqueueDelivery records a GitHub delivery id and queues its job in one transaction
// (Store.EnqueueWebhookDelivery with River's InsertTx), so a redelivered id (or two deliveries
// racing) makes no second job: duplicate is then true and jobID is the first delivery's job.
func (q *Queue) EnqueueDelivery(ctx context.Context, deliveryID, event string, job web.RunJob) (jobID int64, duplicate bool, err error) {
	return q.store.EnqueueWebhookDelivery(ctx, deliveryID, event, func(ctx context.Context, tx pgx.Tx) (int64, error) {
		res, err := q.client.InsertTx(ctx, tx, RunArgs{job}, nil)
		if err != nil {
			return 0, fmt.Errorf("queueing run for delivery %s: %w", deliveryID, err)
		}
		return res.Job.ID, nil
	})
}
