package sessioncore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks are benchd's suites; their names are a contract with the runner (see
// docs/sessioncore.md). quick: -bench '^Benchmark(Create|Call|Memory|Cleanup)$/^n=(50|100)$'.

func benchKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%08d", prefix, i)
	}
	return keys
}

func benchRegistry(b *testing.B, cfg Config) *Registry {
	b.Helper()
	r, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close() })
	return r
}

func populate(b *testing.B, r *Registry, keys []string, spec Spec) []*Session {
	b.Helper()
	out := make([]*Session, len(keys))
	for i, k := range keys {
		spec.Key = k
		s, err := r.Start(context.Background(), spec)
		if err != nil {
			b.Fatalf("populating %s: %v", k, err)
		}
		out[i] = s
	}
	return out
}

func perSecond(b *testing.B, items float64, unit string) {
	if el := b.Elapsed(); el > 0 {
		b.ReportMetric(items/el.Seconds(), unit)
	}
}

// BenchmarkCreate measures starting n sessions from an empty registry (key validation,
// slot reservation, registration, expiry bucket). One op is n starts; ns/session and
// sessions/s are per start. Fresh registries are made outside the timer, 16 at a time; their
// coarse clocks tick once an hour (the sessions' TTL), so that 16 idle tickers do no work
// inside the timed region: under valgrind that work grows with the wall time, and so with
// the machine's load (it was 3–6% of an op's instructions at 5 ms ticks).
func BenchmarkCreate(b *testing.B) {
	for _, n := range []int{100, 500, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			keys := benchKeys("c", n)
			ctx := context.Background()
			const stash = 16
			var regs []*Registry
			closeAll := func() {
				for _, r := range regs {
					_ = r.Close()
				}
				regs = regs[:0]
			}
			defer closeAll()
			refill := func() {
				closeAll()
				for range stash {
					r, err := New(Config{TTL: time.Hour, ClockResolution: time.Hour})
					if err != nil {
						b.Fatal(err)
					}
					regs = append(regs, r)
				}
			}
			refill()
			next, ops := 0, 0
			for b.Loop() {
				if next == stash {
					b.StopTimer()
					refill()
					next = 0
					b.StartTimer()
				}
				r := regs[next]
				next++
				for _, k := range keys {
					if _, err := r.Start(ctx, Spec{Key: k}); err != nil {
						b.Fatal(err)
					}
				}
				ops++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops*n), "ns/session")
			perSecond(b, float64(ops*n), "sessions/s")
		})
	}
}

// BenchmarkCall measures request/reply (Ping → "pong") with n concurrent callers over n
// sessions; callers pick sessions round-robin so some calls meet a busy session and queue.
// n=1 is the plain round trip of one caller to an idle session. The mailbox holds 1024
// messages: n callers can queue at most n calls on one session, so none is refused for a full
// mailbox (calls respect MailboxSize; the default 64 would refuse some at n=100).
func BenchmarkCall(b *testing.B) {
	for _, n := range []int{1, 10, 50, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			r := benchRegistry(b, Config{TTL: time.Hour, MailboxSize: 1024})
			ss := populate(b, r, benchKeys("call", n), Spec{})
			ctx := context.Background()
			if n == 1 {
				s := ss[0]
				for b.Loop() {
					if _, err := s.Call(ctx, Ping{}); err != nil {
						b.Fatal(err)
					}
				}
				perSecond(b, float64(b.N), "calls/s")
				return
			}
			var g atomic.Int64
			var failed atomic.Int64
			b.SetParallelism(max(1, n/runtime.GOMAXPROCS(0)))
			b.ResetTimer() // not the registry's setup
			b.RunParallel(func(pb *testing.PB) {
				i := int(g.Add(1))
				for pb.Next() {
					i++
					if v, err := ss[i%n].Call(ctx, Ping{}); err != nil || v != "pong" {
						failed.Add(1)
					}
				}
			})
			if f := failed.Load(); f != 0 {
				b.Fatalf("%d calls failed", f)
			}
			perSecond(b, float64(b.N), "calls/s")
		})
	}
	b.Run("handler=floor/ticker=none", func(b *testing.B) { benchCallFloor(b, 0) })
	b.Run("handler=floor/ticker=5ms", func(b *testing.B) { benchCallFloor(b, 5*time.Millisecond) })
	b.Run("handler=user/n=1", benchCallUser)
}

// benchCallFloor is the floor of handler=user/n=1, run beside it so that every run can state
// the call as floor + overhead: the bare round trip of two goroutines over two buffered
// channels, each parked on a plain receive (send a request, receive the reply). A call to a
// user handler makes the same two hand-offs (caller → call goroutine → caller); what it costs
// beyond this is the session's bookkeeping. With tick > 0 a goroutine waits on a time.Ticker
// of that period meanwhile, as the registry's ticker does at the default ClockResolution: while
// a P holds a timer, the scheduler reads the clock at every goroutine switch (the runtime's
// timer check), which a registry's calls pay and the bare round trip does not.
func benchCallFloor(b *testing.B, tick time.Duration) {
	b.ReportAllocs()
	if tick > 0 {
		t, stop := time.NewTicker(tick), make(chan struct{})
		go func() {
			for {
				select {
				case <-t.C:
				case <-stop:
					return
				}
			}
		}()
		defer func() { t.Stop(); close(stop) }()
	}
	req, rep := make(chan int, 1), make(chan int, 1)
	go func() {
		for v := range req {
			rep <- v
		}
	}()
	defer close(req)
	for b.Loop() {
		req <- 1
		if <-rep != 1 {
			b.Fatal("wrong reply")
		}
	}
	perSecond(b, float64(b.N), "calls/s")
}

// echoHandler answers every call with its message.
type echoHandler struct{}

func (echoHandler) HandleCall(_ context.Context, msg any) (any, error) { return msg, nil }
func (echoHandler) HandleCast(any)                                     {}
func (echoHandler) Terminate(error)                                    {}

// benchCallUser is BenchmarkCall with a user handler (not inline): one caller's round trip to
// an idle session, handed to another goroutine so that its timeout can interrupt it.
func benchCallUser(b *testing.B) {
	b.ReportAllocs()
	r := benchRegistry(b, Config{Handlers: map[string]HandlerFactory{"echo": func(string, any) (Handler, error) { return echoHandler{}, nil }}})
	s, err := r.Start(context.Background(), Spec{Key: "u", Handler: "echo"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if v, err := s.Call(ctx, 1); err != nil || v != 1 {
			b.Fatal(v, err)
		}
	}
	perSecond(b, float64(b.N), "calls/s")
}

// BenchmarkCast measures casts (Ping, handled by the default handler on the registry's
// workers) from n concurrent senders over n sessions. An op is one accepted cast: a sender
// that finds a mailbox full yields and retries (full/op counts those refusals), so casts/s is
// the rate at which casts are accepted while the workers keep up. n=1 is one sender (the enqueue
// cost) to one session. All casts are handled before the benchmark ends (checked).
func BenchmarkCast(b *testing.B) {
	for _, n := range []int{1, 10, 50, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			r := benchRegistry(b, Config{TTL: time.Hour, MailboxSize: 1024})
			ss := populate(b, r, benchKeys("cast", n), Spec{})
			var full atomic.Int64
			cast := func(s *Session) {
				for {
					err := s.Cast(Ping{})
					if err == nil {
						return
					}
					if !errors.Is(err, ErrMailboxFull) {
						b.Error(err)
						return
					}
					full.Add(1)
					runtime.Gosched()
				}
			}
			before := r.Stats().Casts
			if n == 1 {
				for b.Loop() {
					cast(ss[0])
				}
			} else {
				var g atomic.Int64
				b.SetParallelism(max(1, n/runtime.GOMAXPROCS(0)))
				b.ResetTimer() // not the registry's setup
				b.RunParallel(func(pb *testing.PB) {
					i := int(g.Add(1))
					for pb.Next() {
						i++
						cast(ss[i%n])
					}
				})
			}
			b.StopTimer()
			for _, s := range ss { // a call is handled after every earlier cast
				if _, err := s.Call(context.Background(), Ping{}); err != nil {
					b.Fatal(err)
				}
			}
			if got := r.Stats().Casts - before; got != int64(b.N) {
				b.Fatalf("accepted %d casts, want %d", got, b.N)
			}
			b.ReportMetric(float64(full.Load())/float64(b.N), "full/op")
			perSecond(b, float64(b.N), "casts/s")
		})
	}
	b.Run("op=enqueue_busy", benchCastEnqueueBusy)
}

// blockingHandler blocks a "block" call until block is closed (after signalling entered) and
// ignores casts.
type blockingHandler struct{ block, entered chan struct{} }

func (h *blockingHandler) HandleCall(_ context.Context, msg any) (any, error) {
	if msg == "block" {
		h.entered <- struct{}{}
		<-h.block
	}
	return nil, nil
}
func (h *blockingHandler) HandleCast(any)  {}
func (h *blockingHandler) Terminate(error) {}

// benchCastEnqueueBusy is BenchmarkCast as op=enqueue_busy: one Cast to a session whose
// handler is busy (an inline call blocked on a channel), so the op is the enqueue alone — no
// worker hand-off. Every 50,000 casts the handler is released and the mailbox drained outside
// the timer.
func benchCastEnqueueBusy(b *testing.B) {
	b.ReportAllocs()
	const batch = 50_000
	h := &blockingHandler{entered: make(chan struct{}, 1)}
	r := benchRegistry(b, Config{MailboxSize: batch, Handlers: map[string]HandlerFactory{"h": func(string, any) (Handler, error) { return h, nil }}})
	s, err := r.Start(context.Background(), Spec{Key: "busy", Handler: "h"})
	if err != nil {
		b.Fatal(err)
	}
	var blocked sync.WaitGroup
	hold := func() {
		h.block = make(chan struct{})
		blocked.Go(func() { _, _ = s.Call(context.Background(), "block") })
		// Wait until the handler runs the blocking call: the call is out of the mailbox (a
		// user handler's call is queued and run on a goroutine of its own).
		<-h.entered
	}
	release := func() {
		close(h.block)
		blocked.Wait()
		if _, err := s.Call(context.Background(), "sync"); err != nil { // after every queued cast
			b.Fatal(err)
		}
	}
	hold()
	n := 0
	for b.Loop() {
		if n == batch {
			b.StopTimer()
			release()
			hold()
			n = 0
			b.StartTimer()
		}
		if err := s.Cast(Ping{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.StopTimer()
	release()
	perSecond(b, float64(b.N), "casts/s")
}

// liveHeap returns the live heap after a full GC, in bytes.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemory measures the heap an idle session costs with n live: live heap after GC with
// n sessions (generated IDs, idle TTL) minus the empty registry, divided by n. It includes the
// session, its key, its registry map slot and expiry bookkeeping. B/session is the median over
// the ops. The four forced collections of an op run with the timer stopped, so ns/op is the
// time to make a registry, start n sessions and close it (before, it was mostly those
// collections, and depended on the heap earlier benchmarks left: not a speed figure).
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{100, 500, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var samples []float64
			for b.Loop() {
				samples = append(samples, measureIdle(b, n))
			}
			slices.Sort(samples)
			b.ReportMetric(samples[len(samples)/2], "B/session")
		})
	}
}

func measureIdle(b *testing.B, n int) float64 {
	r, err := New(Config{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	b.StopTimer()
	before := liveHeap()
	b.StartTimer()
	for range n {
		if _, err := r.Start(ctx, Spec{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after := liveHeap()
	b.StartTimer()
	runtime.KeepAlive(r)
	return (float64(after) - float64(before)) / float64(n)
}

// BenchmarkIdleMemory is BenchmarkMemory at 1,000,000 sessions: the budget is 256 B/session.
func BenchmarkIdleMemory(b *testing.B) {
	for _, n := range []int{1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var v float64
			for b.Loop() {
				v = measureIdle(b, n)
			}
			b.ReportMetric(v, "B/session")
		})
	}
}

// BenchmarkShrink measures what a registry keeps after its peak: peak sessions started (n
// without TTL, the others with a 1 s TTL on a manual clock), then all but n expired by one
// sweep; B/session is the live heap after GC, minus the empty registry's, divided by the n
// left (the idle cost of a session is ~220 B; what is above that is the peak's leftovers).
// ns/op is the build and the sweep, not a speed figure.
func BenchmarkShrink(b *testing.B) {
	const peak, n = 1_000_000, 1000
	b.Run(fmt.Sprintf("peak=%d/n=%d", peak, n), func(b *testing.B) {
		b.ReportAllocs()
		var v float64
		for b.Loop() {
			clk := NewManualClock(time.Unix(1_700_000_000, 0))
			r, err := New(Config{Clock: clk})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			before := liveHeap()
			for i := range peak {
				ttl := time.Second
				if i < n {
					ttl = -1
				}
				if _, err := r.Start(ctx, Spec{TTL: ttl}); err != nil {
					b.Fatal(err)
				}
			}
			clk.Advance(3 * time.Second)
			if got := r.CleanupExpired(); got != peak-n {
				b.Fatalf("expired %d, want %d", got, peak-n)
			}
			v = (float64(liveHeap()) - float64(before)) / n
			_ = r.Close()
		}
		b.ReportMetric(v, "B/session")
	})
}

// BenchmarkLookup measures Lookup of a random live session among n (keys visited in a shuffled
// order, so large n pays cache misses as a real registry would).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{100, 1000, 5000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			r := benchRegistry(b, Config{TTL: time.Hour})
			keys := benchKeys("look", n)
			populate(b, r, keys, Spec{})
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			i := 0
			for b.Loop() {
				if _, ok := r.Lookup(keys[i]); !ok {
					b.Fatal("missing")
				}
				if i++; i == n {
					i = 0
				}
			}
			perSecond(b, float64(b.N), "ops/s")
		})
	}
}

// BenchmarkBatch measures StartMany and TerminateMany of n sessions with parallelism 4. One op
// is the whole batch.
func BenchmarkBatch(b *testing.B) {
	const n = 100
	keys := benchKeys("batch", n)
	specs := make([]Spec, n)
	for i, k := range keys {
		specs[i] = Spec{Key: k, TTL: time.Hour}
	}
	ctx := context.Background()
	b.Run(fmt.Sprintf("op=start/n=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		r := benchRegistry(b, Config{})
		for b.Loop() {
			for _, res := range r.StartMany(ctx, specs, 4) {
				if res.Err != nil {
					b.Fatal(res.Err)
				}
			}
			b.StopTimer()
			r.TerminateMany(ctx, keys, 1)
			b.StartTimer()
		}
		perSecond(b, float64(b.N*n), "sessions/s")
	})
	b.Run(fmt.Sprintf("op=terminate/n=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		r := benchRegistry(b, Config{})
		for b.Loop() {
			b.StopTimer()
			r.StartMany(ctx, specs, 1)
			b.StartTimer()
			for _, err := range r.TerminateMany(ctx, keys, 4) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		perSecond(b, float64(b.N*n), "sessions/s")
	})
}

// BenchmarkErrors measures the rejection paths; each op checks it got the right error.
func BenchmarkErrors(b *testing.B) {
	ctx := context.Background()
	expect := func(b *testing.B, want error, f func() error) {
		b.ReportAllocs()
		for b.Loop() {
			if err := f(); !errors.Is(err, want) {
				b.Fatalf("got %v, want %v", err, want)
			}
		}
	}
	b.Run("kind=not_found", func(b *testing.B) {
		r := benchRegistry(b, Config{})
		populate(b, r, benchKeys("e", 1000), Spec{})
		expect(b, ErrNotFound, func() error { _, err := r.Call(ctx, "missing", Ping{}); return err })
	})
	b.Run("kind=duplicate_key", func(b *testing.B) {
		r := benchRegistry(b, Config{})
		populate(b, r, []string{"dup"}, Spec{})
		expect(b, ErrAlreadyStarted, func() error { _, err := r.Start(ctx, Spec{Key: "dup"}); return err })
	})
	b.Run("kind=limit_reached", func(b *testing.B) {
		r := benchRegistry(b, Config{MaxSessions: 10})
		populate(b, r, benchKeys("l", 10), Spec{})
		expect(b, ErrLimitReached, func() error { _, err := r.Start(ctx, Spec{Key: "more"}); return err })
	})
	b.Run("kind=rate_limited", func(b *testing.B) {
		r := benchRegistry(b, Config{CreateRate: 1, CreateBurst: 1})
		populate(b, r, []string{"first"}, Spec{})
		expect(b, ErrRateLimited, func() error { _, err := r.Start(ctx, Spec{Key: "second"}); return err })
	})
	b.Run("kind=invalid_key", func(b *testing.B) {
		r := benchRegistry(b, Config{})
		expect(b, ErrInvalidKey, func() error { _, err := r.Start(ctx, Spec{Key: "no spaces"}); return err })
	})
	b.Run("kind=transition", func(b *testing.B) {
		r := benchRegistry(b, Config{})
		s := populate(b, r, []string{"t"}, Spec{})[0]
		expect(b, ErrTransition, func() error { return s.Transition(ctx, Playing) })
	})
}

// BenchmarkStress runs a mixed workload from 4×GOMAXPROCS goroutines on 10,000 keys with a cap
// of 5,000 sessions: 40% calls, 20% casts, 20% lookups+touch, 10% starts, 10% terminates. Every
// outcome is an expected one (found/not found, started/duplicate/limit); ops/s counts them all.
func BenchmarkStress(b *testing.B) {
	b.ReportAllocs()
	const keyN = 10_000
	r := benchRegistry(b, Config{MaxSessions: keyN / 2, TTL: time.Hour, MailboxSize: 256})
	keys := benchKeys("st", keyN)
	populate(b, r, keys[:keyN/4], Spec{})
	ctx := context.Background()
	var seed atomic.Uint64
	var bad atomic.Int64
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		for pb.Next() {
			k := keys[rng.IntN(keyN)]
			var err error
			switch op := rng.IntN(10); {
			case op < 4:
				_, err = r.Call(ctx, k, Ping{})
			case op < 6:
				err = r.Cast(k, Ping{})
			case op < 8:
				if s, ok := r.Lookup(k); ok {
					s.Touch()
				}
			case op < 9:
				_, err = r.Start(ctx, Spec{Key: k})
			default:
				err = r.Terminate(ctx, k)
			}
			if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrAlreadyStarted) &&
				!errors.Is(err, ErrLimitReached) && !errors.Is(err, ErrMailboxFull) {
				bad.Add(1)
			}
		}
	})
	if n := bad.Load(); n != 0 {
		b.Fatalf("%d unexpected errors", n)
	}
	if c := r.Count(); c > keyN/2 || c != len(r.List()) {
		b.Fatalf("count %d, listed %d, cap %d", c, len(r.List()), keyN/2)
	}
	perSecond(b, float64(b.N), "ops/s")
}

// BenchmarkSession measures the per-session operations: new (Start with a generated ID, with
// 10,000 live; sessions are removed 10,000 at a time outside the timer), transition
// (Playing ↔ Disconnected), touch, is_expired.
func BenchmarkSession(b *testing.B) {
	ctx := context.Background()
	b.Run("op=new", func(b *testing.B) {
		b.ReportAllocs()
		r := benchRegistry(b, Config{TTL: time.Hour})
		populate(b, r, benchKeys("base", 10_000), Spec{})
		var made []string
		for b.Loop() {
			if len(made) == 10_000 {
				b.StopTimer()
				r.TerminateMany(ctx, made, 1)
				made = made[:0]
				b.StartTimer()
			}
			s, err := r.Start(ctx, Spec{})
			if err != nil {
				b.Fatal(err)
			}
			made = append(made, s.ID())
		}
	})
	b.Run("op=transition", func(b *testing.B) {
		b.ReportAllocs()
		r := benchRegistry(b, Config{})
		s := populate(b, r, []string{"t"}, Spec{})[0]
		for _, st := range []State{Authenticating, CharacterSelection, Playing} {
			_ = s.Transition(ctx, st)
		}
		to := [2]State{Disconnected, Playing}
		i := 0
		for b.Loop() {
			if err := s.Transition(ctx, to[i&1]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("op=touch", func(b *testing.B) {
		b.ReportAllocs()
		r := benchRegistry(b, Config{TTL: time.Hour})
		s := populate(b, r, []string{"t"}, Spec{})[0]
		for b.Loop() {
			s.Touch()
		}
	})
	b.Run("op=is_expired", func(b *testing.B) {
		b.ReportAllocs()
		r := benchRegistry(b, Config{TTL: time.Hour})
		s := populate(b, r, []string{"t"}, Spec{})[0]
		n := 0
		for b.Loop() {
			if s.Expired() {
				n++
			}
		}
		if n != 0 {
			b.Fatal("expired")
		}
	})
}

// BenchmarkManager measures the registry operations with 100,000 live sessions: create
// (Start with a caller key; created sessions are removed 10,000 at a time outside the timer),
// get (Lookup of a random live key), touch (Lookup + Touch).
func BenchmarkManager(b *testing.B) {
	const live = 100_000
	ctx := context.Background()
	setup := func(b *testing.B) (*Registry, []string) {
		r := benchRegistry(b, Config{TTL: time.Hour})
		keys := benchKeys("m", live)
		populate(b, r, keys, Spec{})
		rand.New(rand.NewPCG(3, 4)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		return r, keys
	}
	b.Run("op=create", func(b *testing.B) {
		b.ReportAllocs()
		r, _ := setup(b)
		const batch = 10_000
		fresh := benchKeys("new", batch)
		i := 0
		for b.Loop() {
			if i == batch {
				b.StopTimer()
				r.TerminateMany(ctx, fresh, 1)
				i = 0
				b.StartTimer()
			}
			if _, err := r.Start(ctx, Spec{Key: fresh[i]}); err != nil {
				b.Fatal(err)
			}
			i++
		}
		perSecond(b, float64(b.N), "sessions/s")
	})
	b.Run("op=get", func(b *testing.B) {
		b.ReportAllocs()
		r, keys := setup(b)
		i := 0
		for b.Loop() {
			if _, ok := r.Lookup(keys[i%live]); !ok {
				b.Fatal("missing")
			}
			i++
		}
	})
	b.Run("op=touch", func(b *testing.B) {
		b.ReportAllocs()
		r, keys := setup(b)
		i := 0
		for b.Loop() {
			s, ok := r.Lookup(keys[i%live])
			if !ok {
				b.Fatal("missing")
			}
			s.Touch()
			i++
		}
	})
}

// countConn is a Conn whose Send counts bytes and messages: the receiving end of the
// benchmarks (the tests deliver over net.Pipe and TCP).
type countConn struct {
	msgs, bytes atomic.Int64
}

func (c *countConn) Send(m []byte) error { c.msgs.Add(1); c.bytes.Add(int64(len(m))); return nil }
func (c *countConn) Close() error        { return nil }
func (c *countConn) Protocol() string    { return "bench" }

// BenchmarkPool measures the pool with conns connections: count, active (list), send (enqueue
// to one connection) and broadcast (enqueue to all; ns/conn per connection). The benchmark
// waits, outside the timer, for the writers to deliver every message before queues could fill,
// and fails unless every message arrived.
func BenchmarkPool(b *testing.B) {
	const conns = 100
	setup := func(b *testing.B) (*Pool, []*countConn, []string) {
		p := NewPool(PoolConfig{QueueSize: 256})
		b.Cleanup(func() { _ = p.Close() })
		cs := make([]*countConn, conns)
		ids := benchKeys("conn", conns)
		for i := range cs {
			cs[i] = &countConn{}
			if err := p.Register(ids[i], cs[i]); err != nil {
				b.Fatal(err)
			}
		}
		return p, cs, ids
	}
	delivered := func(cs []*countConn) (n int64) {
		for _, c := range cs {
			n += c.msgs.Load()
		}
		return n
	}
	waitDelivered := func(b *testing.B, cs []*countConn, want int64) {
		deadline := time.Now().Add(10 * time.Second)
		for delivered(cs) < want {
			if time.Now().After(deadline) {
				b.Fatalf("delivered %d of %d messages", delivered(cs), want)
			}
			runtime.Gosched()
		}
	}
	name := func(op string) string { return fmt.Sprintf("op=%s/conns=%d", op, conns) }
	b.Run(name("count"), func(b *testing.B) {
		b.ReportAllocs()
		p, _, _ := setup(b)
		for b.Loop() {
			if p.Count() != conns {
				b.Fatal("count")
			}
		}
	})
	b.Run(name("active"), func(b *testing.B) {
		b.ReportAllocs()
		p, _, _ := setup(b)
		for b.Loop() {
			if len(p.Active()) != conns {
				b.Fatal("active")
			}
		}
	})
	msg := []byte("state update: position 12,40")
	b.Run(name("send"), func(b *testing.B) {
		b.ReportAllocs()
		p, cs, ids := setup(b)
		var sent int64
		for b.Loop() {
			if err := p.Send(ids[sent%conns], msg); err != nil {
				b.Fatal(err)
			}
			if sent++; sent%(conns*64) == 0 {
				b.StopTimer()
				waitDelivered(b, cs, sent)
				b.StartTimer()
			}
		}
		waitDelivered(b, cs, sent)
	})
	b.Run(name("broadcast"), func(b *testing.B) {
		b.ReportAllocs()
		p, cs, _ := setup(b)
		var sent int64
		ops := 0
		for b.Loop() {
			if n := p.Broadcast(msg); n != conns {
				b.Fatalf("broadcast reached %d of %d", n, conns)
			}
			sent += conns
			if ops++; ops%128 == 0 {
				b.StopTimer()
				waitDelivered(b, cs, sent)
				b.StartTimer()
			}
		}
		waitDelivered(b, cs, sent)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops*conns), "ns/conn")
	})
}

// BenchmarkConcurrentCreate measures starts from n goroutines at once into one registry (an op
// is one start; registries are renewed every 100,000 starts outside the timer).
func BenchmarkConcurrentCreate(b *testing.B) {
	for _, n := range []int{10, 50, 100, 500} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			b.ResetTimer()
			for done := 0; done < b.N; {
				round := min(b.N-done, 100_000)
				b.StopTimer()
				r, err := New(Config{TTL: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				keys := benchKeys(fmt.Sprintf("cc%d-", done), round)
				var next atomic.Int64
				var wg sync.WaitGroup
				b.StartTimer()
				for range n {
					wg.Go(func() {
						for {
							i := next.Add(1) - 1
							if i >= int64(round) {
								return
							}
							if _, err := r.Start(ctx, Spec{Key: keys[i]}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				if r.Count() != round {
					b.Fatalf("count %d, want %d", r.Count(), round)
				}
				_ = r.Close()
				b.StartTimer()
				done += round
			}
			perSecond(b, float64(b.N), "sessions/s")
		})
	}
}

// BenchmarkCleanup measures CleanupExpired when n sessions are due: one op advances a manual
// clock by one expiry bucket and sweeps exactly n expired sessions (checked). ns/expired is
// per expired session. live=100000 adds 100,000 live sessions with a 1 h TTL that are never
// due: the cost must not change.
func BenchmarkCleanup(b *testing.B) {
	for _, n := range []int{100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchCleanup(b, n, 0) })
	}
	b.Run("live=100000", func(b *testing.B) {
		for _, n := range []int{100, 1000} {
			b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchCleanup(b, n, 100_000) })
		}
	})
}

// evictBuf is larger than the machine's last-level cache (32 MiB here).
var evictBuf []byte

// evictCaches writes a buffer larger than the last-level cache so that what was touched before
// is no longer cached.
func evictCaches() {
	if evictBuf == nil {
		evictBuf = make([]byte, 96<<20)
	}
	for i := 0; i < len(evictBuf); i += 64 {
		evictBuf[i]++
	}
}

func benchCleanup(b *testing.B, n, live int) {
	b.ReportAllocs()
	const res = time.Second
	clk := NewManualClock(time.Unix(1_700_000_000, 0))
	r := benchRegistry(b, Config{Clock: clk, ExpiryResolution: res})
	ctx := context.Background()
	populate(b, r, benchKeys("live", live), Spec{TTL: time.Hour * 24 * 365})
	const groups = 64                // sessions made per refill: groups × n, group g expires in bucket g
	keys := make([][]string, groups) // reused by every refill: the old holders have expired
	for g := range keys {
		keys[g] = benchKeys(fmt.Sprintf("x%d-", g), n)
	}
	refill := func() {
		for g := range groups {
			for _, key := range keys[g] {
				if _, err := r.Start(ctx, Spec{Key: key, TTL: time.Duration(g)*res + res/2}); err != nil {
					b.Fatal(err)
				}
			}
		}
		// The same for every case: no collection started by the refill runs in the timed
		// sweeps, and the sessions that expire are cold in the cache, as sessions idle for a
		// TTL are. Without this the sessions just made stay cached when few are live, and the
		// live=0 case measures a warm cache against the cold one of live=100000.
		runtime.GC()
		evictCaches()
	}
	refill()
	g, ops := 0, 0
	for b.Loop() {
		if g == groups {
			b.StopTimer()
			refill()
			g = 0
			b.StartTimer()
		}
		clk.Advance(res)
		if got := r.CleanupExpired(); got != n {
			b.Fatalf("expired %d, want %d", got, n)
		}
		g++
		ops++
	}
	if c := r.Count(); c != live+(groups-g)*n {
		b.Fatalf("count %d, want %d", c, live+(groups-g)*n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops*n), "ns/expired")
}

// BenchmarkTerminate measures Terminate of one session with 100,000 other live sessions
// (sessions to terminate are made 10,000 at a time outside the timer).
func BenchmarkTerminate(b *testing.B) {
	b.ReportAllocs()
	r := benchRegistry(b, Config{TTL: time.Hour})
	populate(b, r, benchKeys("live", 100_000), Spec{})
	ctx := context.Background()
	const batch = 10_000
	keys := benchKeys("term", batch)
	i := batch
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			populate(b, r, keys, Spec{})
			i = 0
			b.StartTimer()
		}
		if err := r.Terminate(ctx, keys[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	perSecond(b, float64(b.N), "sessions/s")
}
