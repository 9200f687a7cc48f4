package db

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestErrorClassification: driver errors become the sentinels here, so nothing outside db
// looks at pgx's types.
func TestErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: none of the sentinels
	}{
		{"no rows", pgx.ErrNoRows, ErrNotFound},
		{"unique", &pgconn.PgError{Code: "23505"}, ErrConflict},
		{"bad encoding", &pgconn.PgError{Code: "22021"}, ErrInvalid},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), ErrUnavailable},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, ErrUnavailable},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, ErrUnavailable},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, ErrUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, ErrUnavailable},
		{"client went away", fmt.Errorf("query: %w", context.Canceled), nil},
		{"syntax error", &pgconn.PgError{Code: "42601"}, nil},
	} {
		got := mapError(tc.err, "doing %s", tc.name)
		for _, s := range []error{ErrNotFound, ErrConflict, ErrInvalid, ErrUnavailable} {
			if errors.Is(got, s) != (s == tc.want) {
				t.Errorf("for %s, got %v, want it to wrap %v (and no other sentinel)", tc.name, got, tc.want)
			}
		}
	}
	if err := unavailable(nil); err != nil {
		t.Errorf("for nil, got %v, want nil", err)
	}
}
