package sessioncore

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCallsTimingOutConcurrently: many callers, with and without cancellable contexts, call
// sessions whose handler sometimes runs past CallTimeout. Every call returns; a call that
// succeeds gets its own reply (waiters are reused between calls, so a late reply must never
// reach the next caller); every failure is ErrCallTimeout or the context's error. Run with
// -race.
func TestCallsTimingOutConcurrently(t *testing.T) {
	factory := func(string, any) (Handler, error) {
		h := newFuncHandler()
		h.call = func(_ context.Context, msg any) (any, error) {
			if msg.(int)%5 == 0 {
				time.Sleep(3 * time.Millisecond) // past CallTimeout, ignoring ctx
			}
			return msg, nil
		}
		return h, nil
	}
	r := newTestRegistry(t, Config{
		CallTimeout: time.Millisecond, ClockResolution: time.Millisecond,
		MailboxSize: 1024, Handlers: map[string]HandlerFactory{"h": factory},
	})
	const sessions, callers, calls = 4, 8, 300
	ss := make([]*Session, sessions)
	for i := range ss {
		var err error
		if ss[i], err = r.Start(t.Context(), Spec{Handler: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	var ok, timedOut, cancelled atomic.Int64
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for i := range calls {
				msg := c*calls + i
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				switch rng.IntN(3) {
				case 1:
					ctx, cancel = context.WithCancel(context.Background())
					if rng.IntN(2) == 0 {
						cancel() // cancelled before or while queued
					}
				case 2:
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.IntN(2000))*time.Microsecond)
				}
				got, err := ss[rng.IntN(sessions)].Call(ctx, msg)
				cancel()
				switch {
				case err == nil:
					if got != msg {
						t.Errorf("for call %d, got reply %v", msg, got)
					}
					ok.Add(1)
				case errors.Is(err, ErrCallTimeout):
					timedOut.Add(1)
				case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
					cancelled.Add(1)
				default:
					t.Errorf("for call %d, got error %v", msg, err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d answered, %d timed out, %d cancelled", ok.Load(), timedOut.Load(), cancelled.Load())
	if ok.Load() == 0 || timedOut.Load() == 0 {
		t.Errorf("want both answered and timed-out calls, got %d and %d", ok.Load(), timedOut.Load())
	}
	// The sessions still work, one message at a time. A ctx deadline instead of CallTimeout:
	// a session may still be running a 3 ms handler of a caller that gave up, and 1 ms is
	// shorter than that (this check failed 2 runs in 10 with CallTimeout).
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, s := range ss {
		if got, err := s.Call(ctx, 1); err != nil || got != 1 {
			t.Errorf("for a call after the storm, got %v %v", got, err)
		}
	}
}

// TestCallTimeoutWithManualClock: CallTimeout is real time even when sessions expire by a
// ManualClock that never moves.
func TestCallTimeoutWithManualClock(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	h := newFuncHandler()
	h.call = func(context.Context, any) (any, error) { <-block; return nil, nil }
	r := newTestRegistry(t, Config{
		Clock: NewManualClock(time.Unix(1_000_000, 0)), CallTimeout: 10 * time.Millisecond,
		Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"m": h})},
	})
	s, err := r.Start(t.Context(), Spec{Key: "m", Handler: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Call(context.Background(), "blocks"); !errors.Is(err, ErrCallTimeout) {
		t.Errorf("for a call whose handler blocks, got %v, want ErrCallTimeout", err)
	}
}

// gatedHandler's casts wait for gate; Terminate counts.
type gatedHandler struct {
	gate           chan struct{}
	handled, ended *atomic.Int64
}

func (h gatedHandler) HandleCall(context.Context, any) (any, error) { return nil, nil }
func (h gatedHandler) HandleCast(any)                               { <-h.gate; h.handled.Add(1) }
func (h gatedHandler) Terminate(error)                              { h.ended.Add(1) }

// TestCloseWaitsForOverflowRuns: with the run queue full, casts start a goroutine per busy
// session; Close still waits for every one of those runs and ends every session once.
func TestCloseWaitsForOverflowRuns(t *testing.T) {
	gate := make(chan struct{})
	var handled, ended atomic.Int64
	h := gatedHandler{gate, &handled, &ended}
	r, err := New(Config{Workers: 1, Handlers: map[string]HandlerFactory{"g": func(string, any) (Handler, error) { return h, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4096 + 300 // more than the run queue holds
	for i := range n {
		s, err := r.Start(t.Context(), Spec{Handler: "g"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Cast(i); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	go func() { _ = r.Close(); close(closed) }()
	close(gate)
	<-closed
	if got := ended.Load(); got != n {
		t.Errorf("for handlers terminated by Close, got %d, want %d", got, n)
	}
	if got := handled.Load(); got > n {
		t.Errorf("for casts handled, got %d, want at most %d", got, n)
	}
}

// TestCallTimeoutAcrossWheelTurns: with a CallTimeout of several turns of the call lists'
// wheels (15 ticks), a call whose handler blocks times out after about CallTimeout — not at
// the deadline of its waiter's call before, half a CallTimeout earlier — whether its waiter
// was still linked from that call or idle for a turn (dropped by the ticker, linked anew);
// and calls answered at once over many CallTimeouts never time out, although their reused
// waiter's slot comes round with older deadlines behind it.
func TestCallTimeoutAcrossWheelTurns(t *testing.T) {
	release := make(chan struct{})
	h := newFuncHandler()
	h.call = func(_ context.Context, msg any) (any, error) {
		if msg == "block" {
			<-release
		}
		return msg, nil
	}
	const timeout = 60 * time.Millisecond
	r := newTestRegistry(t, Config{
		CallTimeout: timeout, ClockResolution: time.Millisecond,
		Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"w": h})},
	})
	s, err := r.Start(t.Context(), Spec{Key: "w", Handler: "h"})
	if err != nil {
		t.Fatal(err)
	}
	quick := func(d time.Duration) int {
		n := 0
		for end := time.Now().Add(d); time.Now().Before(end); n++ {
			c0 := time.Now()
			if got, err := s.Call(context.Background(), n); err != nil || got != n {
				t.Fatalf("for quick call %d, got %v, %v after %v", n, got, err, time.Since(c0))
			}
		}
		return n
	}
	blocked := func(what string) {
		t0 := time.Now()
		_, err := s.Call(context.Background(), "block")
		el := time.Since(t0)
		if !errors.Is(err, ErrCallTimeout) {
			t.Fatalf("for a blocked call %s, got %v, want ErrCallTimeout", what, err)
		}
		if el < timeout { // never early, even when the ticker was held up (see Registry.ticker)
			t.Errorf("for a blocked call %s, timed out after %v, want about CallTimeout %v", what, el, timeout)
		}
		release <- struct{}{} // the handler returns; its reply is dropped
		t.Logf("blocked call %s: timed out after %v", what, el)
	}
	t.Logf("%d quick calls", quick(5*timeout))
	time.Sleep(timeout / 2) // the last quick call's deadline is half a CallTimeout ahead
	blocked("half a CallTimeout after a quick call")
	quick(time.Millisecond)
	time.Sleep(30 * time.Millisecond) // two turns: the ticker drops the idle waiter
	blocked("after an idle turn")
}

// TestCallGoroutineSurvivesPanics: on a call goroutine, handlers run under one recover for all
// its calls (see runCalls). A call or a cast that panics in the middle of a batch ends its
// session as a crash: the call gets the panic wrapping ErrCrashed, the rest of the batch
// ErrNotFound wrapping ErrCrashed, Terminate runs once; and the goroutine goes on serving
// other sessions.
func TestCallGoroutineSurvivesPanics(t *testing.T) {
	gate := make(chan struct{})
	hs := map[string]*funcHandler{}
	for _, k := range []string{"call", "cast", "other"} {
		h := newFuncHandler()
		h.call = func(_ context.Context, msg any) (any, error) {
			switch msg {
			case "block":
				<-gate
			case "panic":
				panic("boom")
			}
			return msg, nil
		}
		h.cast = func(msg any) {
			if msg == "panic" {
				panic("cast boom")
			}
		}
		hs[k] = h
	}
	r := newTestRegistry(t, Config{CallTimeout: time.Minute, Handlers: map[string]HandlerFactory{"h": factoryOf(hs)}})
	ss := map[string]*Session{}
	for k := range hs {
		s, err := r.Start(t.Context(), Spec{Key: k, Handler: "h"})
		if err != nil {
			t.Fatal(err)
		}
		ss[k] = s
	}
	call := func(s *Session, msg any) chan error {
		c := make(chan error, 1)
		go func() { _, err := s.Call(context.Background(), msg); c <- err }()
		return c
	}
	queued := func(s *Session, n int) {
		for deadline := time.Now().Add(10 * time.Second); s.Info().Mailbox < n; {
			if time.Now().After(deadline) {
				t.Fatalf("the mailbox of %s never held %d messages", s.ID(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// A call that panics, queued behind one that blocks, with a call and a cast behind it.
	blocked := call(ss["call"], "block")
	time.Sleep(5 * time.Millisecond) // "block" is running (it is handed over, not queued)
	boom := call(ss["call"], "panic")
	queued(ss["call"], 1)
	after := call(ss["call"], "after")
	queued(ss["call"], 2)
	if err := ss["call"].Cast("c"); err != nil {
		t.Fatal(err)
	}
	// A cast that panics, queued the same way on another session, with a call behind it.
	blocked2 := call(ss["cast"], "block")
	time.Sleep(5 * time.Millisecond)
	if err := ss["cast"].Cast("panic"); err != nil {
		t.Fatal(err)
	}
	after2 := call(ss["cast"], "after")
	queued(ss["cast"], 2)
	close(gate)
	for what, c := range map[string]chan error{"blocked": blocked, "blocked2": blocked2} {
		if err := <-c; err != nil {
			t.Errorf("for the %s call, got %v", what, err)
		}
	}
	if err := <-boom; !errors.Is(err, ErrCrashed) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("for the call that panicked, got %v, want the panic wrapping ErrCrashed", err)
	}
	for what, c := range map[string]chan error{"call": after, "cast": after2} {
		if err := <-c; !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrCrashed) {
			t.Errorf("for the call behind the %s that panicked, got %v, want ErrNotFound and ErrCrashed", what, err)
		}
	}
	for _, k := range []string{"call", "cast"} {
		if reason := hs[k].waitEnded(t); reason != ErrCrashed {
			t.Errorf("for the reason %s ended, got %v, want ErrCrashed", k, reason)
		}
	}
	for i := range 100 { // the call goroutines still serve
		if got, err := ss["other"].Call(t.Context(), i); err != nil || got != i {
			t.Fatalf("for call %d to another session, got %v, %v", i, got, err)
		}
	}
	if st := r.Stats(); st.Crashed != 2 || st.Live != 1 {
		t.Errorf("for Stats, got %d crashed %d live, want 2 1", st.Crashed, st.Live)
	}
}

// TestCloseWithCallsInFlight: Close while callers (with and without cancellable contexts and
// deadlines) call sessions whose handlers take a while. Every call returns, with a reply or
// an expected error; Close returns only once no handler runs, and none starts after it; every
// session's Terminate runs once. Run with -race (goleak checks the goroutines).
func TestCloseWithCallsInFlight(t *testing.T) {
	var running, afterClose, ended atomic.Int64
	var closed atomic.Bool
	factory := func(string, any) (Handler, error) {
		h := newFuncHandler()
		h.call = func(_ context.Context, msg any) (any, error) {
			running.Add(1)
			defer running.Add(-1)
			if closed.Load() {
				afterClose.Add(1)
			}
			if msg.(int)%7 == 0 {
				time.Sleep(time.Duration(msg.(int)%3) * time.Millisecond)
			}
			return msg, nil
		}
		return endCounter{h, &ended}, nil
	}
	r, err := New(Config{
		CallTimeout: 2 * time.Millisecond, ClockResolution: time.Millisecond, MailboxSize: 1024,
		Handlers: map[string]HandlerFactory{"h": factory},
	})
	if err != nil {
		t.Fatal(err)
	}
	const sessions, callers = 4, 8
	ss := make([]*Session, sessions)
	for i := range ss {
		if ss[i], err = r.Start(t.Context(), Spec{Handler: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var calls atomic.Int64
	for c := range callers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 2))
			for i := 0; ; i++ {
				msg := c*1_000_000 + i
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				switch rng.IntN(3) {
				case 1:
					ctx, cancel = context.WithCancel(context.Background())
					if rng.IntN(2) == 0 {
						cancel()
					}
				case 2:
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(rng.IntN(1500))*time.Microsecond)
				}
				got, err := ss[rng.IntN(sessions)].Call(ctx, msg)
				cancel()
				calls.Add(1)
				switch {
				case err == nil:
					if got != msg {
						t.Errorf("for call %d, got reply %v", msg, got)
					}
				case errors.Is(err, ErrClosed):
					return
				case errors.Is(err, ErrNotFound), errors.Is(err, ErrCallTimeout),
					errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
				default:
					t.Errorf("for call %d, got error %v", msg, err)
				}
			}
		})
	}
	time.Sleep(30 * time.Millisecond)
	_ = r.Close()
	closed.Store(true)
	if n := running.Load(); n != 0 {
		t.Errorf("after Close returned, %d handlers still run", n)
	}
	wg.Wait()
	t.Logf("%d calls", calls.Load())
	if n := afterClose.Load(); n != 0 {
		t.Errorf("%d handlers started after Close returned", n)
	}
	if n := ended.Load(); n != sessions {
		t.Errorf("for the sessions terminated by Close, got %d, want %d", n, sessions)
	}
}

// endCounter counts Terminate calls of the handler it wraps.
type endCounter struct {
	*funcHandler
	n *atomic.Int64
}

func (h endCounter) Terminate(reason error) { h.n.Add(1); h.funcHandler.Terminate(reason) }
