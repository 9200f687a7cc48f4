package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/benchd/benchd/sessioncore"
)

// TestRegistryWiring runs a real sessioncore.Registry with a Store as its Persister, in both
// modes: starts, a transition, touches (Touch and a Call), a terminate and an expiry must show
// in PostgreSQL; Registry.Close keeps the rows; a write-behind store writes everything on Close.
func TestRegistryWiring(t *testing.T) {
	for _, mode := range []Mode{WriteThrough, WriteBehind} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			pool := testPool(t)
			ctx := context.Background()
			store := New(pool, Config{Mode: mode, FlushInterval: time.Hour, BatchSize: 1 << 20})
			storeClosed := false
			defer func() {
				if !storeClosed {
					_ = store.Close(ctx)
				}
			}()
			clk := sessioncore.NewManualClock(t0)
			r, err := sessioncore.New(sessioncore.Config{
				Clock: clk, TTL: time.Minute, ExpiryResolution: time.Second, Persister: store,
			})
			if err != nil {
				t.Fatal(err)
			}
			registryClosed := false
			defer func() {
				if !registryClosed {
					_ = r.Close()
				}
			}()
			rows := func() int { return count(t, pool, "SELECT count(*) FROM sessions") }

			ss := map[string]*sessioncore.Session{}
			for _, k := range []string{"a", "b", "c", "d"} {
				if ss[k], err = r.Start(ctx, sessioncore.Spec{Key: k}); err != nil {
					t.Fatal(err)
				}
			}
			if ss["e"], err = r.Start(ctx, sessioncore.Spec{Key: "e", TTL: -1}); err != nil {
				t.Fatal(err)
			}
			if err := ss["a"].Transition(ctx, sessioncore.Authenticating); err != nil {
				t.Fatal(err)
			}
			if mode == WriteThrough {
				if got := rows(); got != 5 {
					t.Fatalf("write-through: after 5 starts, got %d rows, want 5", got)
				}
				if got, _ := row(t, pool, "a"); got.State != "authenticating" {
					t.Errorf("write-through: after a transition, got state %q, want authenticating", got.State)
				}
			} else if got := rows(); got != 0 {
				t.Fatalf("write-behind: before any flush, got %d rows, want 0", got)
			}

			clk.Advance(30 * time.Second)
			ss["b"].Touch()
			if _, err := ss["c"].Call(ctx, sessioncore.Ping{}); err != nil {
				t.Fatal(err)
			}
			if err := r.Terminate(ctx, "d"); err != nil {
				t.Fatal(err)
			}
			clk.Advance(40 * time.Second) // 70 s: a (idle since 0) expires; b and c (30 s) do not
			if n := r.CleanupExpired(); n != 1 || r.Started("a") {
				t.Fatalf("for CleanupExpired at 70 s, got %d (a started: %v), want 1", n, r.Started("a"))
			}
			if err := store.Flush(ctx); err != nil {
				t.Fatal(err)
			}

			for _, gone := range []string{"a", "d"} {
				if _, ok := row(t, pool, gone); ok {
					t.Errorf("session %s (expired or terminated) still has a row", gone)
				}
			}
			for _, k := range []string{"b", "c"} {
				got, ok := row(t, pool, k)
				if !ok {
					t.Fatalf("touched session %s has no row", k)
				}
				if !got.LastActive.Equal(t0.Add(30*time.Second)) || !got.ExpiresAt.Equal(t0.Add(90*time.Second)) {
					t.Errorf("session %s: got last_active %v expires_at %v, want +30 s and +90 s",
						k, got.LastActive.Sub(t0), got.ExpiresAt.Sub(t0))
				}
			}
			if got, ok := row(t, pool, "e"); !ok || got.State != "connecting" || !got.ExpiresAt.IsZero() ||
				!got.CreatedAt.Equal(t0) || got.Handler != sessioncore.DefaultHandler {
				t.Errorf("session e (no TTL): got %+v (row %v), want connecting, default, created t0, no expiry", got, ok)
			}

			// Activity after the flush, then Close: the registry keeps the rows (no Delete on
			// shutdown) and the store writes what is buffered.
			clk.Advance(10 * time.Second)
			if _, err := r.Start(ctx, sessioncore.Spec{Key: "f"}); err != nil {
				t.Fatal(err)
			}
			ss["b"].Touch()
			if mode == WriteBehind {
				if _, ok := row(t, pool, "f"); ok {
					t.Error("write-behind: a start was written before any flush")
				}
			}
			registryClosed = true
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			storeClosed = true
			if err := store.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if got := rows(); got != 4 {
				t.Errorf("after Close, got %d rows, want 4 (b, c, e, f)", got)
			}
			if got, ok := row(t, pool, "f"); !ok || !got.CreatedAt.Equal(t0.Add(80*time.Second)) {
				t.Errorf("session f after Close: got %+v (row %v), want created at +80 s", got, ok)
			}
			if got, _ := row(t, pool, "b"); !got.LastActive.Equal(t0.Add(80 * time.Second)) {
				t.Errorf("session b after Close: got last_active %v, want +80 s", got.LastActive.Sub(t0))
			}

			// The rows left behind expire in the database by the same rule.
			cleaner := New(pool, Config{})
			defer func() { _ = cleaner.Close(ctx) }()
			n, err := cleaner.DeleteExpired(ctx, t0.Add(150*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			// c (expires at 90 s), b (140 s), f (140 s) go; e never expires.
			if n != 3 || rows() != 1 {
				t.Errorf("for DeleteExpired at +150 s, got %d deleted and %d rows left, want 3 and 1", n, rows())
			}
		})
	}
}
