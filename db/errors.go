package db

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors of the data layer. Every Store method returns errors wrapping one of these
// (or a plain error for a broken connection); test with errors.Is.
var (
	// ErrNotFound: the row asked for does not exist (never a nil value with a nil error).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is taken (a run's idempotency key, a live token's name, a
	// threshold's benchmark/unit/kind) or a state change is not allowed from the current state.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the database (a CHECK, NOT NULL or foreign key constraint) or the Store
	// refused the values: NaN samples, an unknown trigger, a result of a missing run, …
	ErrInvalid = errors.New("invalid")
)

// mapError wraps err with what was being done and the sentinel for its PostgreSQL error class:
// no rows → ErrNotFound, unique violation → ErrConflict, check/not-null/foreign-key violation
// or bad input → ErrInvalid. nil stays nil.
func mapError(err error, doing string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(doing, args...)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%s: %w (%s)", what, ErrConflict, pgErr.ConstraintName)
		case "23514", "23502", "23503", "22P02", "22003", "22001", "22023": // check, not null, foreign key, bad text, out of range, too long, bad parameter
			return fmt.Errorf("%s: %w: %s", what, ErrInvalid, pgErr.Message)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
