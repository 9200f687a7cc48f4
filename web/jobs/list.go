package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/runner"
)

// ListJobs returns the newest limit run jobs, newest first, in every state (queued, running,
// failed with the last error, done), each with its last progress report; it implements
// web.JobLister.
func (q *Queue) ListJobs(ctx context.Context, limit int) ([]db.Job, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(RunArgs{}.Kind()).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit))
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	out := make([]db.Job, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		out = append(out, jobView(j))
	}
	return out, nil
}

// jobView is the view of a River job row of kind benchd_run.
func jobView(j *rivertype.JobRow) db.Job {
	var a RunArgs
	json.Unmarshal(j.EncodedArgs, &a) // a row of this kind was inserted from RunArgs
	v := db.Job{ID: j.ID, State: string(j.State), Project: a.Project, Branch: a.Branch, Commit: a.Commit, Suite: a.Suite,
		Trigger: a.Trigger, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, CreatedAt: j.CreatedAt,
		AttemptedAt: j.AttemptedAt, FinalizedAt: j.FinalizedAt}
	if v.Trigger == "" {
		v.Trigger = "schedule"
	}
	if n := len(j.Errors); n > 0 {
		v.Error = j.Errors[n-1].Error
	}
	var md struct {
		Output *db.JobProgress `json:"output"`
	}
	if json.Unmarshal(j.Metadata, &md) == nil && md.Output != nil && md.Output.Turns > 0 {
		v.Progress = md.Output
	}
	return v
}

// jobIDKey carries the running job's id in its context (progressMiddleware), so the suite's
// progress can be recorded on the job without the worker passing it along.
type jobIDKey struct{}

// progressMiddleware puts the job's id in the context of its work.
type progressMiddleware struct{ river.MiddlewareDefaults }

func (*progressMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	return doInner(context.WithValue(ctx, jobIDKey{}, job.ID))
}

// progressEvery is how often a running job's progress is written to its row at most.
const progressEvery = time.Second

// reportProgress wraps a suite runner so that its progress (turn k of N, the last benchmark,
// how many benchmarks finished) is written to the running job's output, where ListJobs reads
// it; at most once per progressEvery, and always at a new turn. Errors writing it are ignored:
// progress is a courtesy, the run is what counts.
func reportProgress(run func(context.Context, runner.RunConfig) (*runner.RunResult, error)) func(context.Context, runner.RunConfig) (*runner.RunResult, error) {
	return func(ctx context.Context, cfg runner.RunConfig) (*runner.RunResult, error) {
		id, ok := ctx.Value(jobIDKey{}).(int64)
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if !ok || err != nil {
			return run(ctx, cfg)
		}
		var (
			mu   sync.Mutex
			last time.Time
			p    db.JobProgress
		)
		inner := cfg.Progress
		cfg.Progress = func(pr runner.Progress) {
			if inner != nil {
				inner(pr)
			}
			mu.Lock()
			defer mu.Unlock()
			newTurn := pr.Turn != p.Turn
			if pr.Benchmark != "" {
				p.Done++
				p.Benchmark = pr.Benchmark
			}
			p.Turn, p.Turns = pr.Turn, pr.Turns
			if !newTurn && time.Since(last) < progressEvery {
				return
			}
			last = time.Now()
			client.JobUpdate(ctx, id, &river.JobUpdateParams{Output: p})
		}
		return run(ctx, cfg)
	}
}
