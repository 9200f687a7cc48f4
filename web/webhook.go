package web

import (
	"context"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/benchd/benchd/db"
)

// RunJob is a request to benchmark a commit (db.RunJob: the worker shares it without
// depending on this package).
type RunJob = db.RunJob

// JobQueue enqueues run jobs. The webhook calls EnqueueDelivery, which must record the
// delivery id and insert the job in one transaction, so a redelivery makes no second job.
type JobQueue interface {
	// EnqueueDelivery records deliveryID (event) and enqueues job atomically. It returns the
	// job's id, and duplicate=true (and no new job) when the delivery id was seen before.
	EnqueueDelivery(ctx context.Context, deliveryID, event string, job RunJob) (jobID int64, duplicate bool, err error)
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
	if p.Before != zeroSHA && p.Before != p.After {
		job.Before = p.Before // measured interleaved with After by the worker
	}
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
