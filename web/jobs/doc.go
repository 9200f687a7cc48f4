// Package jobs runs benchmarks in the background on River, a PostgreSQL job queue: run jobs
// (queued by the GitHub webhook, the schedule or an operator) are taken by any number of
// worker processes, each job once; a worker checks the commit out in a git worktree of its
// repository cache, runs the suite with the runner — interleaved with its baseline commit
// when it has one — and judges and stores the run through db.Store.Submit, as the API does,
// with the job id as idempotency key, so a retried job stores its run once. It does not
// import the HTTP package (web).
package jobs
