package sessioncore

import (
	"context"
	"time"
)

// Record is what persistence sees of a session: a snapshot taken when it starts, changes state
// or is touched. Times are wall-clock UTC.
type Record struct {
	// ID is the session's key (caller-given or generated).
	ID string
	// Handler names the handler the session runs ("default" for the default handler).
	Handler string
	// State is the state machine's state name ("connecting", "playing", …).
	State string
	// CreatedAt is when the session started.
	CreatedAt time.Time
	// LastActive is the last activity (call, cast, touch).
	LastActive time.Time
	// ExpiresAt is when the session expires if it stays idle (zero: never).
	ExpiresAt time.Time
	// Data is an optional snapshot of the handler's state (nil: none).
	Data []byte
}

// Persister stores sessions outside the process. The registry calls it; sessioncore/pgstore
// implements it for PostgreSQL (write-through or batched write-behind).
type Persister interface {
	// Save stores r (insert or replace). The registry calls it synchronously when a session
	// starts and when its state changes; an error aborts the start and is returned to the caller.
	Save(ctx context.Context, r Record) error
	// Touch records activity of session id at time at. It must not block on I/O: the registry
	// calls it on hot paths (a write-behind implementation coalesces touches per session).
	Touch(id string, at time.Time)
	// Delete removes session id (terminated or expired). Deleting a missing id is not an error.
	Delete(ctx context.Context, id string) error
}
