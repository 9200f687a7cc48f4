package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/benchd/benchd/db"
	"github.com/benchd/benchd/web"
	"github.com/benchd/benchd/web/jobs"
)

// defaultSchedule is how often a worker started in a repository with a benchd.yaml measures
// the project's suite when no --schedule is given (docs/cli.md); `--schedule off` turns it off.
const defaultSchedule = "6h"

// scheduleDefaults gives a worker started in a git repository with a benchd.yaml its
// measuring by default: when --schedule is not given, the suite every defaultSchedule, and a
// first run at start when the project has none; with --branch not given, the repository's
// current branch. "--schedule off" turns both off.
func (c *serveConfig) scheduleDefaults(worker bool) {
	if c.schedule == "off" {
		c.schedule = ""
		return
	}
	if !worker || c.repo == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(c.repo, "benchd.yaml")); err != nil {
		return
	}
	if c.schedule == "" {
		c.schedule = defaultSchedule
	}
	c.firstRun = true
	if !c.branchGiven {
		if out, err := exec.Command("git", "-C", c.repo, "rev-parse", "--abbrev-ref", "HEAD").Output(); err == nil {
			if b := strings.TrimSpace(string(out)); b != "" && b != "HEAD" {
				c.branch = b
			}
		}
	}
}

// queueFirstRun queues one run of job when its project has no runs and no job of it is queued
// or running, so a new service measures something at once instead of after a schedule period.
func queueFirstRun(ctx context.Context, store *db.Store, q *jobs.Queue, job web.RunJob, log *slog.Logger) {
	runs, err := store.ListRuns(ctx, db.RunFilter{Project: job.Project, Limit: 1})
	if err != nil || len(runs) > 0 {
		return
	}
	js, err := q.ListJobs(ctx, 20)
	if err != nil {
		log.Warn("not queueing a first run: listing jobs", "error", err.Error())
		return
	}
	for _, j := range js {
		if j.Active() && j.Project == job.Project {
			return
		}
	}
	id, err := q.Enqueue(ctx, job)
	if err != nil {
		log.Warn("queueing the first run", "error", err.Error())
		return
	}
	log.Info("project has no runs: queued a first run", "job_id", id, "project", job.Project, "branch", job.Branch, "suite", job.Suite)
}
