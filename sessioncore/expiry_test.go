package sessioncore

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestIdleTTLRefreshedByActivity(t *testing.T) {
	clk := NewManualClock(time.Unix(1_000_000, 0))
	p := newMemPersister()
	r := newTestRegistry(t, Config{Clock: clk, TTL: 10 * time.Second, ExpiryResolution: 100 * time.Millisecond, Persister: p})
	ctx := t.Context()
	touched, _ := r.Start(ctx, Spec{Key: "touched"})
	called, _ := r.Start(ctx, Spec{Key: "called"})
	_, _ = r.Start(ctx, Spec{Key: "idle"})
	_, _ = r.Start(ctx, Spec{Key: "forever", TTL: -1})
	for range 5 { // 25 s in steps of 5 s: the active ones stay, idle goes after 10 s
		clk.Advance(5 * time.Second)
		touched.Touch()
		if _, err := called.Call(ctx, Ping{}); err != nil {
			t.Fatal(err)
		}
		r.CleanupExpired()
	}
	got := r.List()
	slices.Sort(got)
	if want := []string{"called", "forever", "touched"}; !slices.Equal(got, want) {
		t.Errorf("after 25 s, got %v, want %v", got, want)
	}
	if touched.Expired() {
		t.Error("for Expired on a touched session, got true")
	}
	clk.Advance(11 * time.Second)
	if !touched.Expired() {
		t.Error("for Expired 11 s after the last touch, got false")
	}
	if n := r.CleanupExpired(); n != 2 {
		t.Errorf("for CleanupExpired 11 s later, got %d, want 2", n)
	}
	if got := r.List(); !slices.Equal(got, []string{"forever"}) {
		t.Errorf("at the end, got %v, want [forever]", got)
	}
	if st := r.Stats(); st.Expired != 3 {
		t.Errorf("for Stats.Expired, got %d, want 3", st.Expired)
	}
	if len(p.deleted) != 3 {
		t.Errorf("for persister deletes, got %v, want 3", p.deleted)
	}
}

func TestAbsoluteLifetime(t *testing.T) {
	clk := NewManualClock(time.Unix(1_000_000, 0))
	r := newTestRegistry(t, Config{Clock: clk, ExpiryResolution: time.Second})
	s, _ := r.Start(t.Context(), Spec{Key: "l", Lifetime: 5 * time.Second})
	for range 4 {
		clk.Advance(time.Second)
		s.Touch() // activity does not extend a lifetime
		r.CleanupExpired()
	}
	if !r.Started("l") {
		t.Fatal("expired before its lifetime")
	}
	clk.Advance(3 * time.Second)
	if n := r.CleanupExpired(); n != 1 || r.Started("l") {
		t.Errorf("after the lifetime, got %d expired, Started %v", n, r.Started("l"))
	}
}

// TestExpiryOnlyVisitsDue checks that sessions that do not expire are not visited: after a
// sweep, the non-expiring sessions are still in their buckets, untouched.
func TestExpiryOnlyVisitsDue(t *testing.T) {
	clk := NewManualClock(time.Unix(1_000_000, 0))
	r := newTestRegistry(t, Config{Clock: clk, ExpiryResolution: time.Second})
	ctx := t.Context()
	for i := range 1000 {
		_, _ = r.Start(ctx, Spec{Key: fmt.Sprintf("long%d", i), TTL: time.Hour})
	}
	for i := range 10 {
		_, _ = r.Start(ctx, Spec{Key: fmt.Sprintf("short%d", i), TTL: time.Second})
	}
	buckets := func() (n int) {
		for i := range r.shards {
			n += len(r.shards[i].wheel)
		}
		return n
	}
	before := buckets()
	clk.Advance(3 * time.Second)
	if n := r.CleanupExpired(); n != 10 {
		t.Fatalf("for CleanupExpired, got %d, want 10", n)
	}
	if r.Count() != 1000 {
		t.Errorf("for Count, got %d, want 1000", r.Count())
	}
	if after := buckets(); after >= before {
		t.Errorf("for wheel buckets, got %d after, %d before, want the due ones gone", after, before)
	}
	// With a real clock the registry's ticker expires sessions by itself.
	r2 := newTestRegistry(t, Config{ExpiryResolution: 10 * time.Millisecond, ClockResolution: time.Millisecond})
	_, _ = r2.Start(ctx, Spec{Key: "auto", TTL: 20 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for r2.Started("auto") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if r2.Started("auto") {
		t.Error("the ticker never expired a session with a 20 ms TTL")
	}
}

func TestTouchIsExpiredDoNotAllocate(t *testing.T) {
	r := newTestRegistry(t, Config{TTL: time.Minute})
	s, _ := r.Start(t.Context(), Spec{Key: "a"})
	if a := testing.AllocsPerRun(100, func() { s.Touch(); _ = s.Expired() }); a != 0 {
		t.Errorf("for Touch and Expired, got %v allocs, want 0", a)
	}
}

// TestSweepTrimsMailbox checks that a session in use gives its mailbox buffers back when the
// sweep re-buckets it after it went quiet.
func TestSweepTrimsMailbox(t *testing.T) {
	clk := NewManualClock(time.Unix(1_000_000, 0))
	r := newTestRegistry(t, Config{Clock: clk, TTL: 10 * time.Second, ExpiryResolution: time.Second})
	ctx := t.Context()
	s, _ := r.Start(ctx, Spec{Key: "m"})
	for i := range 20 {
		_ = s.Cast(Put{Key: "k", Value: i})
	}
	if v, err := s.Call(ctx, Get{Key: "k"}); err != nil || v != 19 {
		t.Fatalf("after 20 casts, got %v %v, want 19", v, err)
	}
	buffers := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return cap(s.ext.q) + cap(s.ext.spare)
	}
	for { // the worker that answered may not have let go of the session yet
		s.mu.Lock()
		busy := s.busy
		s.mu.Unlock()
		if !busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if buffers() == 0 {
		t.Skip("the casts ran without leaving a buffer to trim")
	}
	clk.Advance(8 * time.Second)
	s.Touch()
	clk.Advance(5 * time.Second) // the first bucket is due: re-bucketed, not expired
	if n := r.CleanupExpired(); n != 0 {
		t.Fatalf("for CleanupExpired, got %d, want 0", n)
	}
	if b := buffers(); b != 0 {
		t.Errorf("after the sweep, got %d buffer slots, want 0", b)
	}
}

// TestTouchedAfterBucketedDoesNotExpireEarly: a session touched after it was put in its
// bucket is re-bucketed by the sweep at its old deadline, and expires at its new one.
func TestTouchedAfterBucketedDoesNotExpireEarly(t *testing.T) {
	clk := NewManualClock(time.Unix(1_000_000, 0))
	r := newTestRegistry(t, Config{Clock: clk, TTL: 10 * time.Second, ExpiryResolution: time.Second, Shards: 1})
	ctx := t.Context()
	keys := make([]string, 200) // enough to share the bucket with many others
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		if _, err := r.Start(ctx, Spec{Key: keys[i]}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(8 * time.Second)
	for _, k := range keys[:100] {
		if s, ok := r.Lookup(k); ok {
			s.Touch()
		}
	}
	clk.Advance(3 * time.Second) // 11 s: the untouched half is due, the touched half is not
	if n := r.CleanupExpired(); n != 100 {
		t.Fatalf("at 11 s, got %d expired, want 100", n)
	}
	for _, k := range keys[:100] {
		if !r.Started(k) {
			t.Fatalf("touched session %s expired at its old deadline", k)
		}
	}
	clk.Advance(6 * time.Second) // 17 s: 9 s after the touch
	if n := r.CleanupExpired(); n != 0 {
		t.Fatalf("at 17 s, got %d expired, want 0", n)
	}
	clk.Advance(2 * time.Second) // 19 s: 11 s after the touch
	if n := r.CleanupExpired(); n != 100 {
		t.Fatalf("at 19 s, got %d expired, want 100", n)
	}
	if r.Count() != 0 {
		t.Errorf("for Count at the end, got %d, want 0", r.Count())
	}
}

// TestTerminatedNotExpired: sessions terminated (or crashed) before their bucket came due are
// not expired again, through the bucket's compaction, and a key re-created meanwhile keeps its
// new TTL.
func TestTerminatedNotExpired(t *testing.T) {
	clk := NewManualClock(time.Unix(1_000_000, 0))
	var mu sync.Mutex
	expired := map[string]int{}
	stops := map[string]int{}
	hooks := Hooks{
		OnExpire: func(id string) { mu.Lock(); expired[id]++; mu.Unlock() },
		OnStop:   func(id string, _ error) { mu.Lock(); stops[id]++; mu.Unlock() },
	}
	r := newTestRegistry(t, Config{Clock: clk, TTL: 5 * time.Second, ExpiryResolution: time.Second, Shards: 1, Hooks: hooks})
	ctx := t.Context()
	const n = 300
	for i := range n {
		if _, err := r.Start(ctx, Spec{Key: fmt.Sprintf("k%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Terminate 2 of every 3 (the bucket compacts on the way), half through the session.
	for i := range n {
		if i%3 == 0 {
			continue
		}
		k := fmt.Sprintf("k%d", i)
		if i%2 == 0 {
			if err := r.Terminate(ctx, k); err != nil {
				t.Fatal(err)
			}
		} else if s, ok := r.Lookup(k); !ok || s.Terminate(ctx) != nil {
			t.Fatalf("terminating %s through its session failed", k)
		}
	}
	// Re-create ten of the terminated keys with a long TTL: same tick, new sessions.
	recreated := 0
	for i := 1; i <= 20; i += 2 {
		if i%3 == 0 {
			continue
		}
		if _, err := r.Start(ctx, Spec{Key: fmt.Sprintf("k%d", i), TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		recreated++
	}
	clk.Advance(6 * time.Second)
	if got := r.CleanupExpired(); got != n/3 {
		t.Fatalf("for CleanupExpired, got %d, want %d", got, n/3)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		k := fmt.Sprintf("k%d", i)
		switch {
		case i%3 == 0:
			if expired[k] != 1 || stops[k] != 1 {
				t.Errorf("%s: expired %d times, stopped %d times, want 1 and 1", k, expired[k], stops[k])
			}
		case expired[k] != 0 || stops[k] != 1:
			t.Errorf("terminated %s: expired %d times, stopped %d times, want 0 and 1", k, expired[k], stops[k])
		}
	}
	for i := 1; i <= 20; i += 2 {
		if k := fmt.Sprintf("k%d", i); i%3 != 0 && !r.Started(k) {
			t.Errorf("re-created %s is gone", k)
		}
	}
	if st := r.Stats(); st.Expired != n/3 || st.Live != recreated {
		t.Errorf("for Stats, got expired %d live %d, want %d and %d", st.Expired, st.Live, n/3, recreated)
	}
}
