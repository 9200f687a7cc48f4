package web

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/db"
)

// JobLister lists the run jobs and queues one on demand; the server's JobQueue implements it
// when it can (web/jobs.Queue does). Without it the jobs page says there is no queue.
type JobLister interface {
	// ListJobs returns the newest run jobs, newest first, at most limit of them.
	ListJobs(ctx context.Context, limit int) ([]JobView, error)
	// Enqueue queues job now and returns its id.
	Enqueue(ctx context.Context, job RunJob) (int64, error)
}

// JobView is a run job as the jobs page and the jobs API show it (db.Job: web/jobs reads
// River's rows into it without importing web).
type JobView = db.Job

// JobProgress is how far a running job is (db.JobProgress).
type JobProgress = db.JobProgress

// jobLister returns the server's JobLister, or nil.
func (s *Server) jobLister() JobLister {
	l, _ := s.jobs.(JobLister)
	return l
}

// jobList returns the newest jobs with the runs they stored, nil without a queue.
func (s *Server) jobList(ctx context.Context, limit int) ([]JobView, error) {
	l := s.jobLister()
	if l == nil {
		return nil, nil
	}
	js, err := l.ListJobs(ctx, limit)
	if err != nil {
		return nil, err
	}
	for i := range js {
		if js[i].State == "completed" {
			if r, err := s.store.RunByIdempotencyKey(ctx, js[i].Project, "river-job-"+itoa(js[i].ID)); err == nil {
				js[i].RunID = r.ID
			}
		}
	}
	return js, nil
}

// JobsPage is the view of /jobs.
type JobsPage struct {
	// Queue is false when this server has no job queue.
	Queue bool
	Jobs  []JobView
	RunNowForm
}

// RunNowForm is the "Run now" button's form: what it queues (POST
// /api/v1/projects/{project}/jobs with a token typed into the page).
type RunNowForm struct {
	Project, Branch, Suite string
}

// runNowForm returns the form for project and branch, nil without a job queue.
func (s *Server) runNowForm(project, branch string) *RunNowForm {
	if s.jobLister() == nil {
		return nil
	}
	f := &RunNowForm{Project: project, Branch: branch, Suite: s.cfg.WebhookSuite}
	if f.Project == "" {
		f.Project = s.cfg.WebhookProject
	}
	if f.Project == "" {
		f.Project = "sessioncore"
	}
	if f.Branch == "" {
		f.Branch = "main"
	}
	if f.Suite == "" {
		f.Suite = "quick"
	}
	return f
}

func (s *Server) jobsPage(c echo.Context) error {
	js, err := s.jobList(c.Request().Context(), 100)
	if err != nil {
		return err
	}
	v := JobsPage{Queue: s.jobLister() != nil, Jobs: js}
	if f := s.runNowForm("", ""); f != nil {
		v.RunNowForm = *f
	}
	return s.render(c, http.StatusOK, "jobs", page{Nav: "jobs", Data: v})
}

// apiJobs answers GET /api/v1/projects/{project}/jobs: the newest 100 run jobs of every
// project, newest first (River's rows: queued, running with progress, failed with the error,
// done with the run).
func (s *Server) apiJobs(c echo.Context) error {
	js, err := s.jobList(c.Request().Context(), 100)
	if err != nil {
		return err
	}
	if js == nil {
		js = []JobView{}
	}
	return c.JSON(http.StatusOK, map[string]any{"jobs": js})
}

// apiRunNow answers POST /api/v1/projects/{project}/jobs (token of the project): queues a run
// of ?branch= (default main) with ?suite= (default the server's suite) and returns its id.
func (s *Server) apiRunNow(c echo.Context) error {
	l := s.jobLister()
	if l == nil {
		return errorf(http.StatusServiceUnavailable, "this server has no job queue")
	}
	job := RunJob{Project: c.Param("project"), Branch: c.QueryParam("branch"), Suite: c.QueryParam("suite"), Trigger: "cli"} // asked for by a person: the runs table has no "manual" trigger
	if job.Branch == "" {
		job.Branch = "main"
	}
	if job.Suite == "" {
		job.Suite = s.cfg.WebhookSuite
	}
	if job.Suite == "" {
		job.Suite = "quick"
	}
	if job.Project == s.cfg.WebhookProject {
		job.Repo = s.cfg.WebhookRepo
	}
	id, err := l.Enqueue(c.Request().Context(), job)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"job_id": id, "url": s.cfg.BaseURL + "/jobs"})
}
