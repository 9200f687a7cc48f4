package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/benchd/benchd/sessioncore"
)

// t0 is a fixed wall-clock time at microsecond precision, as PostgreSQL stores it.
var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func record(id string) sessioncore.Record {
	return sessioncore.Record{
		ID:         id,
		Handler:    "default",
		State:      "connecting",
		CreatedAt:  t0,
		LastActive: t0,
		ExpiresAt:  t0.Add(time.Minute),
		Data:       []byte("data-" + id),
	}
}

// row reads session id straight from the table; ok is false when there is no row.
func row(t *testing.T, pool *pgxpool.Pool, id string) (r sessioncore.Record, ok bool) {
	t.Helper()
	var exp *time.Time
	err := pool.QueryRow(context.Background(),
		"SELECT id, handler, state, created_at, last_active, expires_at, data FROM sessions WHERE id = $1", id).
		Scan(&r.ID, &r.Handler, &r.State, &r.CreatedAt, &r.LastActive, &exp, &r.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatalf("reading session %s: %v", id, err)
	}
	r.CreatedAt, r.LastActive = r.CreatedAt.UTC(), r.LastActive.UTC()
	if exp != nil {
		r.ExpiresAt = exp.UTC()
	}
	return r, true
}

func count(t *testing.T, pool *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func checkRecord(t *testing.T, what string, got, want sessioncore.Record) {
	t.Helper()
	if got.ID != want.ID || got.Handler != want.Handler || got.State != want.State ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.LastActive.Equal(want.LastActive) ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || string(got.Data) != string(want.Data) {
		t.Errorf("for %s, got %+v, want %+v", what, got, want)
	}
}

func TestMigrateIsIdempotentUnderConcurrency(t *testing.T) {
	t.Parallel()
	pool := schemaPool(t, testSchema(t))
	ctx := context.Background()
	var wg sync.WaitGroup
	applied := make([]int, 4)
	errs := make([]error, 4)
	for i := range applied {
		wg.Go(func() { applied[i], errs[i] = Migrate(ctx, pool) })
	}
	wg.Wait()
	total := 0
	for i := range applied {
		if errs[i] != nil {
			t.Fatalf("migrate %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != 1 {
		t.Errorf("for 4 concurrent migrations, got %d applied in total, want 1", total)
	}
	if n, err := Migrate(ctx, pool); err != nil || n != 0 {
		t.Errorf("for a migration of a current schema, got %d, %v, want 0, nil", n, err)
	}
	if got := count(t, pool, "SELECT count(*) FROM sessions"); got != 0 {
		t.Errorf("for a fresh schema, got %d sessions, want 0", got)
	}
}

func TestWriteThrough(t *testing.T) {
	t.Parallel()
	s, pool := testStore(t, Config{FlushInterval: time.Hour})
	ctx := context.Background()

	r := record("wt-1")
	if err := s.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, ok := row(t, pool, r.ID)
	if !ok {
		t.Fatalf("after a write-through Save, got no row for %s", r.ID)
	}
	checkRecord(t, "the row after Save", got, r)

	r.State = "playing"
	r.Data = nil
	if err := s.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, _ = row(t, pool, r.ID)
	checkRecord(t, "the row after a second Save", got, r)

	// Touch is buffered in write-through mode too: invisible until a flush.
	s.Touch(r.ID, t0.Add(10*time.Second))
	got, _ = row(t, pool, r.ID)
	checkRecord(t, "the row before the touch is flushed", got, r)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := r
	want.LastActive = t0.Add(10 * time.Second)
	want.ExpiresAt = r.ExpiresAt.Add(10 * time.Second)
	got, _ = row(t, pool, r.ID)
	checkRecord(t, "the row after the touch is flushed", got, want)

	// An older touch never moves last_active back.
	s.Touch(r.ID, t0.Add(5*time.Second))
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = row(t, pool, r.ID)
	checkRecord(t, "the row after an older touch", got, want)

	if _, err := s.Enqueue(ctx, r.ID, []byte("cmd")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := row(t, pool, r.ID); ok {
		t.Errorf("after a write-through Delete, the row of %s is still there", r.ID)
	}
	if n := count(t, pool, "SELECT count(*) FROM session_commands WHERE session_id = $1", r.ID); n != 0 {
		t.Errorf("after Delete, got %d queued commands, want 0", n)
	}
	if err := s.Delete(ctx, "missing"); err != nil {
		t.Errorf("for Delete of a missing id, got %v, want nil", err)
	}
	if _, err := s.Get(ctx, r.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("for Get after Delete, got %v, want ErrNotFound", err)
	}
}

func TestWriteBehindCoalescesTouches(t *testing.T) {
	t.Parallel()
	s, pool := testStore(t, Config{Mode: WriteBehind, FlushInterval: time.Hour})
	ctx := context.Background()

	r := record("wb-touch")
	if err := s.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, ok := row(t, pool, r.ID); ok {
		t.Fatalf("a write-behind Save reached the table before any flush")
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := row(t, pool, r.ID); !ok {
		t.Fatalf("after Flush, got no row for %s", r.ID)
	}

	before := s.Stats()
	const touches = 100
	for i := 1; i <= touches; i++ {
		s.Touch(r.ID, t0.Add(time.Duration(i)*time.Second))
	}
	if got := s.Stats().Pending; got != 1 {
		t.Errorf("after %d touches of one session, got %d pending, want 1", touches, got)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	if d := after.Touched - before.Touched; d != 1 {
		t.Errorf("for %d touches of one session, got %d row updates, want 1", touches, d)
	}
	if d := after.Flushes - before.Flushes; d != 1 {
		t.Errorf("for one Flush, got %d flushes, want 1", d)
	}
	want := r
	want.LastActive = t0.Add(touches * time.Second)
	want.ExpiresAt = r.ExpiresAt.Add(touches * time.Second)
	got, _ := row(t, pool, r.ID)
	checkRecord(t, "the row after coalesced touches", got, want)
}

func TestWriteBehindFlushesOnClose(t *testing.T) {
	t.Parallel()
	pool := testPool(t)
	ctx := context.Background()
	s := New(pool, Config{Mode: WriteBehind, FlushInterval: time.Hour, BatchSize: 1 << 20})

	// Rows that exist before: one to delete, one to change.
	seed := New(pool, Config{})
	for _, id := range []string{"old-delete", "old-change"} {
		if err := seed.Save(ctx, record(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := seed.Close(ctx); err != nil {
		t.Fatal(err)
	}

	const n = 500
	for i := range n {
		r := record(fmt.Sprintf("wb-%03d", i))
		if err := s.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		s.Touch(r.ID, t0.Add(time.Second))
	}
	// Saved then deleted before any flush: never written.
	if err := s.Save(ctx, record("short-lived")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "short-lived"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "old-delete"); err != nil {
		t.Fatal(err)
	}
	changed := record("old-change")
	changed.State = "playing"
	if err := s.Save(ctx, changed); err != nil {
		t.Fatal(err)
	}

	if got := count(t, pool, "SELECT count(*) FROM sessions"); got != 2 {
		t.Fatalf("before Close, got %d rows, want the 2 seeded", got)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(t, pool, "SELECT count(*) FROM sessions WHERE id LIKE 'wb-%'"); got != n {
		t.Errorf("after Close, got %d saved rows, want %d", got, n)
	}
	want := record("wb-123")
	want.LastActive = t0.Add(time.Second)
	want.ExpiresAt = want.ExpiresAt.Add(time.Second)
	got, _ := row(t, pool, "wb-123")
	checkRecord(t, "a saved and touched row after Close", got, want)
	if _, ok := row(t, pool, "short-lived"); ok {
		t.Errorf("a session saved and deleted before the flush was written")
	}
	if _, ok := row(t, pool, "old-delete"); ok {
		t.Errorf("a buffered Delete was not applied by Close")
	}
	got, _ = row(t, pool, "old-change")
	checkRecord(t, "a replaced row after Close", got, changed)

	if err := s.Save(ctx, record("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("for Save after Close, got %v, want ErrClosed", err)
	}
	s.Touch("wb-001", t0.Add(time.Hour)) // ignored, must not panic or block
	if err := s.Close(ctx); err != nil {
		t.Errorf("for a second Close, got %v, want nil", err)
	}
}

func TestWriteBehindBackgroundFlush(t *testing.T) {
	t.Parallel()
	s, pool := testStore(t, Config{Mode: WriteBehind, FlushInterval: 10 * time.Millisecond})
	ctx := context.Background()
	if err := s.Save(ctx, record("bg")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := row(t, pool, "bg"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no background flush within 10 s at a 10 ms interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWriteBehindBackpressure(t *testing.T) {
	t.Parallel()
	s, pool := testStore(t, Config{Mode: WriteBehind, FlushInterval: time.Hour, BatchSize: 10, MaxPending: 20})
	ctx := context.Background()
	const n = 1000
	for i := range n {
		if err := s.Save(ctx, record(fmt.Sprintf("bp-%04d", i))); err != nil {
			t.Fatal(err)
		}
		if p := s.Stats().Pending; p > 20 {
			t.Fatalf("after %d saves, got %d pending, want at most MaxPending=20", i+1, p)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(t, pool, "SELECT count(*) FROM sessions"); got != n {
		t.Errorf("got %d rows, want %d", got, n)
	}

	// A full buffer with a cancelled context: Save gives up with the context's error.
	blocked := New(pool, Config{Mode: WriteBehind, FlushInterval: time.Hour, BatchSize: 1, MaxPending: 1})
	blocked.flushMu.Lock() // no flush can make room
	if err := blocked.Save(ctx, record("x1")); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := blocked.Save(cctx, record("x2")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("for Save into a full buffer, got %v, want DeadlineExceeded", err)
	}
	blocked.flushMu.Unlock()
	if err := blocked.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestGetReadsOwnWrites(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{WriteThrough, WriteBehind} {
		t.Run("mode="+mode.String(), func(t *testing.T) {
			t.Parallel()
			s, _ := testStore(t, Config{Mode: mode, FlushInterval: time.Hour})
			ctx := context.Background()
			r := record("get")
			if err := s.Save(ctx, r); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			checkRecord(t, "Get after Save", got, r)

			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			s.Touch(r.ID, t0.Add(3*time.Second))
			want := r
			want.LastActive = t0.Add(3 * time.Second)
			want.ExpiresAt = r.ExpiresAt.Add(3 * time.Second)
			got, err = s.Get(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			checkRecord(t, "Get with a buffered touch", got, want)

			if err := s.Delete(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, r.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("for Get after Delete, got %v, want ErrNotFound", err)
			}
			if _, err := s.Get(ctx, "never"); !errors.Is(err, ErrNotFound) {
				t.Errorf("for Get of an unknown id, got %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDrainIsAtomicUnderConcurrency(t *testing.T) {
	t.Parallel()
	s, pool := testStore(t, Config{})
	ctx := context.Background()
	const (
		sid      = "drained"
		n        = 2000
		drainers = 4
	)
	if cmds, err := s.Drain(ctx, sid); err != nil || cmds != nil {
		t.Fatalf("for an empty queue, got %v, %v, want nil, nil", cmds, err)
	}

	var (
		enqueued = make([]int64, 0, n)
		got      [drainers][]int64
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		errs     = make(chan error, drainers+1)
	)
	for d := range drainers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				cmds, err := s.Drain(ctx, sid)
				if err != nil {
					errs <- err
					return
				}
				for i, c := range cmds {
					if i > 0 && c.ID <= cmds[i-1].ID {
						errs <- fmt.Errorf("drain out of order: %d after %d", c.ID, cmds[i-1].ID)
						return
					}
					if c.SessionID != sid || len(c.Payload) == 0 || c.EnqueuedAt.IsZero() {
						errs <- fmt.Errorf("command %d: got %+v", c.ID, c)
						return
					}
					got[d] = append(got[d], c.ID)
				}
			}
		})
	}
	for i := range n {
		id, err := s.Enqueue(ctx, sid, []byte(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		enqueued = append(enqueued, id)
	}
	// Let the drainers empty the queue, then stop them.
	deadline := time.Now().Add(10 * time.Second)
	for count(t, pool, "SELECT count(*) FROM session_commands WHERE session_id = $1", sid) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("drainers did not empty the queue within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var all []int64
	busy := 0
	for d := range drainers {
		all = append(all, got[d]...)
		if len(got[d]) > 0 {
			busy++
		}
	}
	slices.Sort(all)
	if len(all) != n || !slices.Equal(all, enqueued) {
		dups := len(all) - len(slices.Compact(slices.Clone(all)))
		t.Fatalf("got %d drained commands (%d duplicates), want each of the %d enqueued exactly once", len(all), dups, n)
	}
	t.Logf("%d commands drained by %d of %d drainers", n, busy, drainers)
}

func TestDeleteExpired(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{WriteThrough, WriteBehind} {
		t.Run("mode="+mode.String(), func(t *testing.T) {
			t.Parallel()
			s, pool := testStore(t, Config{Mode: mode, FlushInterval: time.Hour})
			ctx := context.Background()
			now := t0.Add(time.Hour)
			save := func(id string, exp time.Time) {
				r := record(id)
				r.ExpiresAt = exp
				if err := s.Save(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			save("past", now.Add(-time.Second))
			save("exactly-now", now)
			save("future", now.Add(time.Second))
			save("never", time.Time{})
			save("touched", now.Add(-time.Second))
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			// A buffered touch moves "touched" past now: DeleteExpired must see it.
			s.Touch("touched", t0.Add(time.Minute))
			for _, id := range []string{"past", "future"} {
				if _, err := s.Enqueue(ctx, id, []byte("c")); err != nil {
					t.Fatal(err)
				}
			}

			n, err := s.DeleteExpired(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("got %d deleted, want 2 (past, exactly-now)", n)
			}
			for id, want := range map[string]bool{"past": false, "exactly-now": false, "future": true, "never": true, "touched": true} {
				if _, ok := row(t, pool, id); ok != want {
					t.Errorf("for session %s after DeleteExpired, got present=%v, want %v", id, ok, want)
				}
			}
			if got := count(t, pool, "SELECT count(*) FROM session_commands WHERE session_id = 'past'"); got != 0 {
				t.Errorf("got %d commands of an expired session, want 0", got)
			}
			if got := count(t, pool, "SELECT count(*) FROM session_commands WHERE session_id = 'future'"); got != 1 {
				t.Errorf("got %d commands of a live session, want 1", got)
			}
			if n, err := s.DeleteExpired(ctx, now); err != nil || n != 0 {
				t.Errorf("for a second DeleteExpired, got %d, %v, want 0, nil", n, err)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	save := op{kind: opSave, rec: record("m")}
	touch := func(s int) op { return op{kind: opTouch, at: t0.Add(time.Duration(s) * time.Second)} }
	del := op{kind: opDelete}
	touched := save
	touched.rec = touchRecord(save.rec, t0.Add(5*time.Second))

	tests := []struct {
		name      string
		old, next op
		want      op
	}{
		{"none+save", op{}, save, save},
		{"none+touch", op{}, touch(1), touch(1)},
		{"none+delete", op{}, del, del},
		{"save+none", save, op{}, save},
		{"save+touch", save, touch(5), touched},
		{"save+delete", save, del, del},
		{"touch+touch later", touch(1), touch(2), touch(2)},
		{"touch+touch earlier", touch(2), touch(1), touch(2)},
		{"touch+save", touch(5), save, touched},
		{"touch+delete", touch(1), del, del},
		{"delete+touch", del, touch(1), del},
		{"delete+save", del, save, save},
	}
	for _, tt := range tests {
		got := merge(tt.old, tt.next)
		if got.kind != tt.want.kind || !got.at.Equal(tt.want.at) ||
			!got.rec.LastActive.Equal(tt.want.rec.LastActive) || !got.rec.ExpiresAt.Equal(tt.want.rec.ExpiresAt) {
			t.Errorf("for %s, got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
