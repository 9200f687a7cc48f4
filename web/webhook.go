package web

import (
	"context"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

// RunJob is a request to benchmark a commit, queued by the webhook or the schedule.
type RunJob struct {
	// Project the run is stored under.
	Project string `json:"project"`
	// Repo is the repository to clone ("" = the worker's configured repository).
	Repo string `json:"repo"`
	// Branch and Commit say what to check out (Commit "" = the branch's head).
	Branch string `json:"branch"`
	Commit string `json:"commit"`
	// Suite is the suite to run ("quick", "full", "pg").
	Suite string `json:"suite"`
	// Trigger is "webhook" or "schedule".
	Trigger string `json:"trigger"`
	// DeliveryID is the GitHub delivery that asked for the run ("" otherwise).
	DeliveryID string `json:"delivery_id,omitempty"`
}

// JobQueue enqueues run jobs. The webhook calls EnqueueDelivery, which must record the
// delivery id and insert the job in one transaction, so a redelivery makes no second job.
type JobQueue interface {
	// EnqueueDelivery records deliveryID (event) and enqueues job atomically. It returns the
	// job's id, and duplicate=true (and no new job) when the delivery id was seen before.
	EnqueueDelivery(ctx context.Context, deliveryID, event string, job RunJob) (jobID int64, duplicate bool, err error)
	// EnqueueChangePoints queues the change-point rule for the series of run runID
	// (Ingester.ChangePointAlerts), too slow to run while a POST waits.
	EnqueueChangePoints(ctx context.Context, runID int64) error
}

// githubWebhook handles POST /api/v1/webhooks/github.
func (s *Server) githubWebhook(c echo.Context) error {
	if s.cfg.WebhookSecret == "" {
		return errorf(http.StatusNotFound, "the GitHub webhook is not configured (set --webhook-secret)")
	}
	req := c.Request()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err
	}
	if err := verifySignature([]byte(s.cfg.WebhookSecret), body, req.Header.Get("X-Hub-Signature-256")); err != nil {
		s.metrics.WebhookDeliveries.WithLabelValues("unknown", "bad_signature").Inc()
		return err
	}
	event, delivery := req.Header.Get("X-GitHub-Event"), req.Header.Get("X-GitHub-Delivery")
	if event == "" || delivery == "" || len(delivery) > 200 {
		return &Error{Status: http.StatusBadRequest, Message: "X-GitHub-Event and X-GitHub-Delivery (≤ 200 bytes) headers are required"}
	}
	log := s.log.With("delivery_id", delivery, "event", event)
	reply := func(status int, action, msg string, extra ...any) error {
		s.metrics.WebhookDeliveries.WithLabelValues(event, action).Inc()
		log.InfoContext(req.Context(), "webhook", append([]any{"action", action, "reason", msg}, extra...)...)
		body := map[string]any{"action": action, "message": msg}
		for i := 0; i+1 < len(extra); i += 2 {
			body[extra[i].(string)] = extra[i+1]
		}
		return c.JSON(status, body)
	}
	switch event {
	case "ping":
		return reply(http.StatusOK, "pong", "pong")
	case "push":
	default:
		return reply(http.StatusAccepted, "ignored", "event "+event+" is not handled; benchd acts on push")
	}
	p, err := parsePush(body)
	if err != nil {
		return err
	}
	branch, why := pushDecision(p, s.cfg.WebhookBranches)
	if why != "" {
		return reply(http.StatusAccepted, "ignored", why)
	}
	if s.jobs == nil {
		return errorf(http.StatusServiceUnavailable, "no job queue configured")
	}
	job := RunJob{Project: s.cfg.WebhookProject, Repo: p.Repo.CloneURL, Branch: branch, Commit: p.After,
		Suite: s.cfg.WebhookSuite, Trigger: "webhook", DeliveryID: delivery}
	if s.cfg.WebhookRepo != "" {
		job.Repo = s.cfg.WebhookRepo
	}
	id, dup, err := s.jobs.EnqueueDelivery(req.Context(), delivery, event, job)
	if err != nil {
		return err
	}
	if dup {
		return reply(http.StatusOK, "duplicate", "delivery "+delivery+" was already handled")
	}
	return reply(http.StatusAccepted, "queued", "run of "+branch+" at "+p.After+" queued", "job_id", id, "commit", p.After, "branch", branch)
}
