package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/benchd/benchd/sessioncore/pgstore/internal/pgsqlc"
)

// Command is a queued command for a session, waiting for the session to reconnect.
type Command struct {
	// ID orders the commands of a session (ascending = enqueue order).
	ID int64
	// SessionID is the session the command is for.
	SessionID string
	// Payload is the command, opaque to the store.
	Payload []byte
	// EnqueuedAt is when Enqueue ran (UTC, microsecond precision).
	EnqueuedAt time.Time
}

// Enqueue appends payload to the command queue of session sessionID and returns the command's
// ID. It writes before returning, in either mode. The session does not have to exist yet;
// deleting the session (Delete, DeleteExpired) deletes its queue.
func (s *Store) Enqueue(ctx context.Context, sessionID string, payload []byte) (int64, error) {
	if payload == nil {
		payload = []byte{}
	}
	id, err := s.q.CommandInsert(ctx, pgsqlc.CommandInsertParams{
		SessionID:  sessionID,
		Payload:    payload,
		EnqueuedAt: ts(time.Now()),
	})
	if err != nil {
		return 0, fmt.Errorf("enqueuing a command for session %q: %w", sessionID, err)
	}
	return id, nil
}

// Drain removes and returns every queued command of session sessionID, oldest first, in one
// statement: concurrent drainers of one session never receive the same command. It returns
// nil when the queue is empty.
func (s *Store) Drain(ctx context.Context, sessionID string) ([]Command, error) {
	rows, err := s.q.CommandDrain(ctx, sessionID)
	if err != nil {
		return nil, fmt.Errorf("draining the commands of session %q: %w", sessionID, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	out := make([]Command, len(rows))
	for i, r := range rows {
		out[i] = Command{ID: r.ID, SessionID: r.SessionID, Payload: r.Payload, EnqueuedAt: r.EnqueuedAt.Time.UTC()}
	}
	return out, nil
}
