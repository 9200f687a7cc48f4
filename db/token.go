package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/benchd/benchd/db/internal/dbsqlc"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// tokenPrefix starts every plaintext token, so a leaked one is easy to recognise.
const tokenPrefix = "bdt_"

// Token is an API token's metadata (the secret is never stored, only its SHA-256).
type Token struct {
	ID        int64
	ProjectID int64  // 0 = every project
	Project   string // "" = every project
	Name      string
	CreatedAt time.Time
	// LastUsedAt (updated at most once a minute) and RevokedAt are zero until then.
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// CreateToken creates a token named name for project ("" = every project; a named project
// must exist: ErrNotFound otherwise) and returns it with its plaintext, which is shown once and
// never stored. A live token with the same name and project returns ErrConflict.
func (s *Store) CreateToken(ctx context.Context, project, name string) (Token, string, error) {
	var projectID pgtype.Int8
	if project != "" {
		p, err := s.q.ProjectGetByName(ctx, project)
		if err != nil {
			return Token{}, "", mapError(err, "creating token %q: looking up project %q", name, project)
		}
		projectID = pgtype.Int8{Int64: p.ID, Valid: true}
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Token{}, "", fmt.Errorf("creating token %q: %w", name, err)
	}
	plain := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret)
	h := sha256.Sum256([]byte(plain))
	r, err := s.q.TokenInsert(ctx, dbsqlc.TokenInsertParams{ProjectID: projectID, Name: name, Hash: h[:]})
	if err != nil {
		return Token{}, "", mapError(err, "creating token %q", name)
	}
	return Token{ID: r.ID, ProjectID: int8Val(projectID), Project: project, Name: name, CreatedAt: ts(r.CreatedAt)}, plain, nil
}

// VerifyToken returns the live token whose plaintext is plain, or ErrNotFound (unknown,
// malformed or revoked). The lookup is by SHA-256, so the comparison leaks nothing about the
// secret through timing.
func (s *Store) VerifyToken(ctx context.Context, plain string) (Token, error) {
	if !strings.HasPrefix(plain, tokenPrefix) {
		return Token{}, fmt.Errorf("verifying token: %w", ErrNotFound)
	}
	h := sha256.Sum256([]byte(plain))
	r, err := s.q.TokenGetByHash(ctx, h[:])
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && r.RevokedAt.Valid) {
		return Token{}, fmt.Errorf("verifying token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, mapError(err, "verifying token")
	}
	touched, err := s.q.TokenTouch(ctx, r.ID)
	if err != nil {
		return Token{}, mapError(err, "recording use of token %d", r.ID)
	}
	tok := tokenFrom(dbsqlc.TokenListRow(r))
	if touched == 1 {
		tok.LastUsedAt = time.Now()
	}
	return tok, nil
}

// ListTokens returns the tokens of project ("" = every token, whichever project) by ID,
// revoked ones included.
func (s *Store) ListTokens(ctx context.Context, project string) ([]Token, error) {
	rows, err := s.q.TokenList(ctx, pgText(project))
	if err != nil {
		return nil, mapError(err, "listing tokens")
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = tokenFrom(r)
	}
	return out, nil
}

// RevokeToken revokes the live token named name of project ("" = the all-projects token of
// that name). It returns ErrNotFound when there is none.
func (s *Store) RevokeToken(ctx context.Context, project, name string) error {
	var projectID pgtype.Int8
	if project != "" {
		p, err := s.q.ProjectGetByName(ctx, project)
		if err != nil {
			return mapError(err, "revoking token %q: looking up project %q", name, project)
		}
		projectID = pgtype.Int8{Int64: p.ID, Valid: true}
	}
	n, err := s.q.TokenRevoke(ctx, dbsqlc.TokenRevokeParams{Name: name, ProjectID: projectID})
	if err != nil {
		return mapError(err, "revoking token %q", name)
	}
	if n == 0 {
		return fmt.Errorf("revoking token %q of %q: %w", name, project, ErrNotFound)
	}
	return nil
}

func tokenFrom(r dbsqlc.TokenListRow) Token {
	return Token{ID: r.ID, ProjectID: int8Val(r.ProjectID), Project: r.Project, Name: r.Name,
		CreatedAt: ts(r.CreatedAt), LastUsedAt: ts(r.LastUsedAt), RevokedAt: ts(r.RevokedAt)}
}

// RecordWebhookDelivery records a webhook delivery id and reports whether it is new (false: a
// redelivery, to be acknowledged without doing anything).
func (s *Store) RecordWebhookDelivery(ctx context.Context, deliveryID, event string) (bool, error) {
	_, err := s.q.WebhookDeliveryInsert(ctx, dbsqlc.WebhookDeliveryInsertParams{DeliveryID: deliveryID, Event: event})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, mapError(err, "recording webhook delivery %q", deliveryID)
	}
	return true, nil
}

// SetWebhookDeliveryJob records the job enqueued for a delivery (ErrNotFound when the
// delivery was never recorded).
func (s *Store) SetWebhookDeliveryJob(ctx context.Context, deliveryID string, jobID int64) error {
	n, err := s.q.WebhookDeliverySetJob(ctx, dbsqlc.WebhookDeliverySetJobParams{DeliveryID: deliveryID, JobID: pgInt8(jobID)})
	if err != nil {
		return mapError(err, "recording job of webhook delivery %q", deliveryID)
	}
	if n == 0 {
		return fmt.Errorf("recording job of webhook delivery %q: %w", deliveryID, ErrNotFound)
	}
	return nil
}

// EnqueueWebhookDelivery records a GitHub delivery id and, when it is new, calls enqueue in the
// same transaction to insert its job (River's InsertTx on tx) and records the job's id with the
// delivery: either both are stored or neither is. A redelivered id (or two deliveries racing)
// makes no second job: duplicate is then true, enqueue is not called and jobID is the first
// delivery's job (0 when it had none).
func (s *Store) EnqueueWebhookDelivery(ctx context.Context, deliveryID, event string,
	enqueue func(ctx context.Context, tx pgx.Tx) (jobID int64, err error)) (jobID int64, duplicate bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		_, err := q.WebhookDeliveryInsert(ctx, dbsqlc.WebhookDeliveryInsertParams{DeliveryID: deliveryID, Event: event})
		if errors.Is(err, pgx.ErrNoRows) {
			duplicate = true
			jid, err := q.WebhookDeliveryJob(ctx, deliveryID)
			if err != nil {
				return mapError(err, "reading webhook delivery %q", deliveryID)
			}
			jobID = int8Val(jid)
			return nil
		}
		if err != nil {
			return mapError(err, "recording webhook delivery %q", deliveryID)
		}
		if jobID, err = enqueue(ctx, tx); err != nil {
			return fmt.Errorf("enqueueing the job of webhook delivery %q: %w", deliveryID, err)
		}
		if _, err := q.WebhookDeliverySetJob(ctx, dbsqlc.WebhookDeliverySetJobParams{DeliveryID: deliveryID, JobID: pgInt8(jobID)}); err != nil {
			return mapError(err, "recording job of webhook delivery %q", deliveryID)
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return jobID, duplicate, nil
}
