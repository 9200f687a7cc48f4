package db

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/benchd/benchd/db/internal/dbsqlc"
)

// Commit is what is known of a commit besides its SHA.
type Commit struct {
	SHA string
	// Message is the first line of its message ("" when unknown).
	Message string
	// CommittedAt is its commit time (zero when unknown).
	CommittedAt time.Time
}

// SetCommit stores what is known of commit c of project (creating the project when
// missing), replacing what was known before.
func (s *Store) SetCommit(ctx context.Context, project string, c Commit) error {
	if _, err := ensureProject(ctx, s.q, project); err != nil {
		return mapError(err, "ensuring project %q", project)
	}
	at := pgtype.Timestamptz{Time: c.CommittedAt, Valid: !c.CommittedAt.IsZero()}
	err := s.q.CommitUpsert(ctx, dbsqlc.CommitUpsertParams{Project: project, Sha: c.SHA, Message: c.Message, CommittedAt: at})
	return mapError(err, "storing commit %s of %s", c.SHA, project)
}

// Commits returns the known commits of project among shas, by SHA; an empty map when none
// is known (or shas is empty).
func (s *Store) Commits(ctx context.Context, project string, shas []string) (map[string]Commit, error) {
	out := map[string]Commit{}
	if len(shas) == 0 {
		return out, nil
	}
	rows, err := s.q.CommitList(ctx, dbsqlc.CommitListParams{Project: project, Shas: shas})
	if err != nil {
		return nil, mapError(err, "reading commits of %s", project)
	}
	for _, r := range rows {
		c := Commit{SHA: r.Sha, Message: r.Message}
		if r.CommittedAt.Valid {
			c.CommittedAt = r.CommittedAt.Time
		}
		out[r.Sha] = c
	}
	return out, nil
}
