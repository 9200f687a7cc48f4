package db

import "time"

// Job is a run job of the queue as the pages and the API show it: River's row of kind
// benchd_run read by web/jobs (db holds the type so the worker side needs no web import).
type Job struct {
	ID int64 `json:"id"`
	// State is River's: available (queued), scheduled, running, retryable (failed, to be
	// retried), completed, cancelled or discarded (failed for good).
	State       string     `json:"state"`
	Project     string     `json:"project"`
	Branch      string     `json:"branch"`
	Commit      string     `json:"commit,omitempty"`
	Suite       string     `json:"suite"`
	Trigger     string     `json:"trigger"`
	Attempt     int        `json:"attempt"`
	MaxAttempts int        `json:"max_attempts"`
	CreatedAt   time.Time  `json:"created_at"`
	AttemptedAt *time.Time `json:"attempted_at,omitempty"`
	FinalizedAt *time.Time `json:"finalized_at,omitempty"`
	// Error is the last attempt's error ("" when none).
	Error string `json:"error,omitempty"`
	// Progress is the running job's last progress report (nil before the first).
	Progress *JobProgress `json:"progress,omitempty"`
	// RunID is the run the job stored (0 until it has).
	RunID int64 `json:"run_id,omitempty"`
}

// JobProgress is how far a running job is: turn Turn of Turns of the suite's test binary, the
// last benchmark that finished, and the benchmark lines seen so far.
type JobProgress struct {
	Turn      int    `json:"turn"`
	Turns     int    `json:"turns"`
	Benchmark string `json:"benchmark,omitempty"`
	Done      int    `json:"done"`
}

// Active is true for a job that has not finished (queued, scheduled, running or to be retried).
func (j Job) Active() bool {
	switch j.State {
	case "available", "scheduled", "pending", "running", "retryable":
		return true
	}
	return false
}

// StateText is the state in words: queued, running, failed (will retry), failed, done,
// cancelled.
func (j Job) StateText() string {
	switch j.State {
	case "available", "pending":
		return "queued"
	case "scheduled":
		return "scheduled"
	case "retryable":
		return "failed, will retry"
	case "discarded":
		return "failed"
	case "completed":
		return "done"
	}
	return j.State
}
