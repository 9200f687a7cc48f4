package db

// RunJob is a request to benchmark a commit, queued by the webhook, the schedule or a person
// (web, web/jobs and cmd/benchd share it; it is stored as a job's JSON arguments).
type RunJob struct {
	// Project the run is stored under.
	Project string `json:"project"`
	// Repo is the repository to clone ("" = the worker's configured repository).
	Repo string `json:"repo"`
	// Branch and Commit say what to check out (Commit "" = the branch's head).
	Branch string `json:"branch"`
	Commit string `json:"commit"`
	// Before is the commit to measure interleaved with Commit as its baseline (a push's
	// before; "" = the branch's named baseline's or start point's commit, when known).
	Before string `json:"before,omitempty"`
	// Suite is the suite to run ("quick", "full", "pg").
	Suite string `json:"suite"`
	// Trigger is "webhook" or "schedule".
	Trigger string `json:"trigger"`
	// DeliveryID is the GitHub delivery that asked for the run ("" otherwise).
	DeliveryID string `json:"delivery_id,omitempty"`
}
