package db

import (
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Conversions between pgtype values (internal) and plain Go values (the API).

func ts(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// dbTime returns t as PostgreSQL stores it (microseconds, UTC), so a value written and the
// value read back are equal.
func dbTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Round(time.Microsecond).UTC()
}

func pgTime(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

func pgText(s string) pgtype.Text {
	return pgtype.Text{String: s, Valid: s != ""}
}

func pgInt8(v int64) pgtype.Int8 {
	return pgtype.Int8{Int64: v, Valid: v != 0}
}

func int8Val(v pgtype.Int8) int64 {
	if !v.Valid {
		return 0
	}
	return v.Int64
}
