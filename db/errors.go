package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors of the data layer. Every Store method returns errors wrapping one of these
// (or a plain error for a broken invariant); test with errors.Is.
var (
	// ErrNotFound: the row asked for does not exist (never a nil value with a nil error).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is taken (a run's idempotency key, a live token's name, a
	// threshold's benchmark/unit/kind) or a state change is not allowed from the current state.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the database (a CHECK, NOT NULL or foreign key constraint) or the Store
	// refused the values: NaN samples, an unknown trigger, a result of a missing run, …
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: the database did not answer in time or cannot be reached right now
	// (connection refused or reset, the context's deadline or the statement timeout passed,
	// a lock not granted, the server shutting down). Retrying later may succeed; nothing of
	// the failed call was committed.
	ErrUnavailable = errors.New("database unavailable")
)

// mapError wraps err with what was being done and the sentinel for its PostgreSQL error class:
// no rows → ErrNotFound, unique violation → ErrConflict, check/not-null/foreign-key violation
// or bad input → ErrInvalid, connection trouble or a timeout → ErrUnavailable. nil stays nil.
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
		case "23514", "23502", "23503", "22P02", "22003", "22001", "22023", "22021", "22P05": // check, not null, foreign key, bad text, out of range, too long, bad parameter, bad encoding, untranslatable character
			return fmt.Errorf("%s: %w: %s", what, ErrInvalid, pgErr.Message)
		}
	}
	return unavailable(fmt.Errorf("%s: %w", what, err))
}

// unavailable wraps err with ErrUnavailable when it means the database cannot answer right
// now (see isUnavailable), and returns it unchanged otherwise (nil stays nil).
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !isUnavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// isUnavailable reports whether err means the database cannot be reached or did not answer
// in time: a dial or network error, a closed or reset connection, the context's deadline, the
// statement or lock timeout, a server shutting down. A cancelled context (the caller went
// away) is not: nobody is waiting for a retry.
func isUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57014: statement timeout (query_canceled);
		// 55P03: lock timeout; 57P01-03: admin shutdown, crash shutdown, cannot connect now;
		// 53300: too many connections; 40001/40P01: serialization failure, deadlock (retry).
		switch pe.Code {
		case "57014", "55P03", "57P01", "57P02", "57P03", "53300", "40001", "40P01":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "unexpected EOF") || strings.Contains(msg, "broken pipe")
}
