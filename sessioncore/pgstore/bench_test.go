package pgstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/benchd/benchd/sessioncore"
)

// The pg suite: the manager's create/touch/cleanup with PostgreSQL persistence. Durability
// of the figures depends on the server: the private test cluster runs with fsync=off, so for
// quoted figures point BENCHD_TEST_DATABASE_URL at a server with fsync=on; the suite logs
// the setting once.
func BenchmarkPG(b *testing.B) {
	b.Run("mode=write-through/op=create", benchWriteThroughCreate)
	b.Run("mode=write-behind/op=create", benchWriteBehindCreate)
	b.Run("mode=write-behind/op=touch", benchWriteBehindTouch)
	b.Run("op=cleanup/n=1000", benchCleanup)
}

var logDurability sync.Once

// benchStore returns a store on a fresh schema of the benchmark database.
func benchStore(b *testing.B, cfg Config) (*Store, *pgxpool.Pool) {
	b.Helper()
	s, pool := testStore(b, cfg)
	logDurability.Do(func() {
		var fsync, sc string
		if err := pool.QueryRow(context.Background(),
			"SELECT current_setting('fsync'), current_setting('synchronous_commit')").Scan(&fsync, &sc); err == nil {
			b.Logf("server: fsync=%s synchronous_commit=%s", fsync, sc)
		}
	})
	return s, pool
}

// benchRecord returns a fresh session record with a 32-character ID.
func benchRecord(i int, now time.Time) sessioncore.Record {
	return sessioncore.Record{
		ID:         fmt.Sprintf("bench-session-%018d", i),
		Handler:    "default",
		State:      "connecting",
		CreatedAt:  now,
		LastActive: now,
		ExpiresAt:  now.Add(30 * time.Minute),
	}
}

// benchWriteThroughCreate saves one new session per op, synchronously, and reports the
// median per-op latency.
func benchWriteThroughCreate(b *testing.B) {
	s, _ := benchStore(b, Config{Mode: WriteThrough})
	ctx := context.Background()
	now := time.Now()
	lat := make([]time.Duration, 0, 4096)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		r := benchRecord(i, now)
		i++
		start := time.Now()
		if err := s.Save(ctx, r); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2].Seconds(), "p50-sec/op")
	b.ReportMetric(lat[len(lat)*99/100].Seconds(), "p99-sec/op")
}

// benchWriteBehindCreate saves one new session per op into the write-behind buffer and
// counts writes as done only once the final flush has committed: writes/s is durable
// throughput, not buffer throughput.
func benchWriteBehindCreate(b *testing.B) {
	s, _ := benchStore(b, Config{Mode: WriteBehind})
	ctx := context.Background()
	now := time.Now()
	i := 0
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Save(ctx, benchRecord(i, now)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	if got := s.Stats().Upserted; got != int64(i) {
		b.Fatalf("got %d rows upserted, want %d", got, i)
	}
	b.ReportMetric(float64(i)/elapsed.Seconds(), "writes/s")
}

// benchWriteBehindTouch touches sessions of a 50,000-session table round-robin, each touch
// later than the last; writes/s counts touches made durable (after the final flush), rows/s
// the row updates the coalesced flushes actually performed.
func benchWriteBehindTouch(b *testing.B) {
	const live = 50_000
	s, _ := benchStore(b, Config{Mode: WriteBehind})
	ctx := context.Background()
	now := time.Now()
	ids := make([]string, live)
	for i := range ids {
		r := benchRecord(i, now)
		ids[i] = r.ID
		if err := s.Save(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	before := s.Stats().Touched
	i := 0
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.Touch(ids[i%live], now.Add(time.Duration(i+1)*time.Microsecond))
		i++
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	rows := s.Stats().Touched - before
	if rows < int64(min(i, live)) {
		b.Fatalf("got %d rows touched for %d touches over %d sessions", rows, i, live)
	}
	b.ReportMetric(float64(i)/elapsed.Seconds(), "writes/s")
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
}

// benchCleanup deletes 1,000 expired sessions (among 1,000 live ones) per op with
// DeleteExpired; the expired rows are inserted with the timer stopped.
func benchCleanup(b *testing.B) {
	const n = 1000
	s, pool := benchStore(b, Config{Mode: WriteThrough})
	ctx := context.Background()
	now := time.Now()
	if _, err := pool.Exec(ctx, `INSERT INTO sessions (id, handler, state, created_at, last_active, expires_at)
		SELECT 'live-' || g, 'default', 'playing', $1, $1, $1::timestamptz + interval '1 hour'
		FROM generate_series(1, $2::int) AS g`, now, n); err != nil {
		b.Fatal(err)
	}
	round := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		round++
		if _, err := pool.Exec(ctx, `INSERT INTO sessions (id, handler, state, created_at, last_active, expires_at)
			SELECT 'exp-' || $3::int || '-' || g, 'default', 'playing', $1, $1, $1::timestamptz - interval '1 second'
			FROM generate_series(1, $2::int) AS g`, now, n, round); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		got, err := s.DeleteExpired(ctx, now)
		if err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("got %d deleted, want %d", got, n)
		}
	}
	b.ReportMetric(float64(n*round)/b.Elapsed().Seconds(), "sessions/s")
}
