package sessioncore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

func TestDefaultHandler(t *testing.T) {
	r := newTestRegistry(t, Config{})
	ctx := t.Context()
	s, err := r.Start(ctx, Spec{Key: "d"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(msg, want any) {
		t.Helper()
		got, err := s.Call(ctx, msg)
		if err != nil || got != want {
			t.Errorf("for Call(%#v), got %#v, %v, want %#v", msg, got, err, want)
		}
	}
	check(Ping{}, "pong")
	check(GetState{}, Connecting)
	check(Get{Key: "a"}, nil)
	check(Put{Key: "a", Value: 1}, nil)
	check(Get{Key: "a"}, 1)
	check(Delete{Key: "a"}, nil)
	check(Get{Key: "a"}, nil)
	check("echo me", "echo me")
	if err := s.Cast(Put{Key: "b", Value: "cast"}); err != nil {
		t.Fatal(err)
	}
	// The call is queued behind the cast or runs after it: either way it sees the cast.
	check(Get{Key: "b"}, "cast")
}

// TestCastOrder checks that casts and calls from one goroutine are handled in order, one at a
// time.
func TestCastOrder(t *testing.T) {
	h := newFuncHandler()
	var mu sync.Mutex
	var seen []int
	running := 0
	h.cast = func(msg any) {
		mu.Lock()
		running++
		if running != 1 {
			t.Errorf("for concurrency, got %d handlers running, want 1", running)
		}
		seen = append(seen, msg.(int))
		running--
		mu.Unlock()
	}
	h.call = func(_ context.Context, msg any) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(seen), nil
	}
	r := newTestRegistry(t, Config{MailboxSize: 1000, Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"o": h})}})
	s, err := r.Start(t.Context(), Spec{Key: "o", Handler: "h"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if err := s.Cast(i); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Call(t.Context(), "count")
	if err != nil || n != 500 {
		t.Fatalf("for the call after 500 casts, got %v %v, want 500", n, err)
	}
	for i, v := range seen {
		if v != i {
			t.Fatalf("for cast %d, got %d, want in order", i, v)
		}
	}
}

func TestFullMailbox(t *testing.T) {
	h := newFuncHandler()
	block := make(chan struct{})
	h.call = func(context.Context, any) (any, error) { <-block; return nil, nil }
	r := newTestRegistry(t, Config{MailboxSize: 3, Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"m": h})}})
	s, _ := r.Start(t.Context(), Spec{Key: "m", Handler: "h"})
	done := make(chan struct{})
	go func() { defer close(done); _, _ = s.Call(context.Background(), "block") }()
	waitBusy(t, s)
	for i := range 3 {
		if err := s.Cast(i); err != nil {
			t.Fatalf("for cast %d of 3, got %v", i, err)
		}
	}
	if err := s.Cast(3); !errors.Is(err, ErrMailboxFull) {
		t.Errorf("for the 4th cast, got %v, want ErrMailboxFull", err)
	}
	if got := s.Info().Mailbox; got != 3 {
		t.Errorf("for Info.Mailbox, got %d, want 3", got)
	}
	close(block)
	<-done
	if _, err := s.Call(t.Context(), "sync"); err != nil {
		t.Fatal(err)
	}
	if got := len(h.castsSeen()); got != 3 {
		t.Errorf("for casts handled, got %d, want 3", got)
	}
	if st := r.Stats(); st.MailboxFull != 1 {
		t.Errorf("for Stats.MailboxFull, got %d, want 1", st.MailboxFull)
	}
}

func TestCallTimeout(t *testing.T) {
	h := newFuncHandler()
	block := make(chan struct{})
	h.call = func(_ context.Context, msg any) (any, error) {
		if msg == "block" {
			<-block
		}
		return msg, nil
	}
	r := newTestRegistry(t, Config{CallTimeout: 20 * time.Millisecond, Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"t": h})}})
	s, _ := r.Start(t.Context(), Spec{Key: "t", Handler: "h"})
	done := make(chan struct{})
	go func() { defer close(done); _, _ = s.Call(context.Background(), "block") }()
	waitBusy(t, s)
	if _, err := s.Call(context.Background(), "waits"); !errors.Is(err, ErrCallTimeout) {
		t.Errorf("for a call to a busy session without deadline, got %v, want ErrCallTimeout", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Call(ctx, "waits"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("for a call with a context deadline, got %v, want DeadlineExceeded", err)
	}
	close(block)
	<-done
	if got, err := s.Call(t.Context(), "after"); err != nil || got != "after" {
		t.Errorf("for a call after the timeouts, got %v %v", got, err)
	}
}

func TestHandlerPanic(t *testing.T) {
	bad, good := newFuncHandler(), newFuncHandler()
	bad.call = func(context.Context, any) (any, error) { panic("boom") }
	r := newTestRegistry(t, Config{Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"bad": bad, "good": good})}})
	ctx := t.Context()
	sb, _ := r.Start(ctx, Spec{Key: "bad", Handler: "h"})
	sg, _ := r.Start(ctx, Spec{Key: "good", Handler: "h"})
	_, err := sb.Call(ctx, "x")
	if !errors.Is(err, ErrCrashed) {
		t.Fatalf("for a call whose handler panics, got %v, want ErrCrashed", err)
	}
	if reason := bad.waitEnded(t); reason != ErrCrashed {
		t.Errorf("for the crashed session's reason, got %v, want ErrCrashed", reason)
	}
	if r.Started("bad") {
		t.Error("the crashed session is still registered")
	}
	if got, err := sg.Call(ctx, "fine"); err != nil || got != "fine" {
		t.Errorf("for the other session, got %v %v, want it untouched", got, err)
	}
	// A panic in a cast crashes the session too, run on a worker.
	castBad := newFuncHandler()
	castBad.cast = func(any) { panic("cast boom") }
	r2 := newTestRegistry(t, Config{Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"c": castBad})}})
	sc, _ := r2.Start(ctx, Spec{Key: "c", Handler: "h"})
	if err := sc.Cast("x"); err != nil {
		t.Fatal(err)
	}
	if reason := castBad.waitEnded(t); reason != ErrCrashed {
		t.Errorf("for a cast crash, got %v, want ErrCrashed", reason)
	}
	if st := r.Stats(); st.Crashed != 1 || st.Live != 1 {
		t.Errorf("for Stats, got %+v, want 1 crashed 1 live", st)
	}
}

// TestQueuedCallsFailOnTerminate checks that callers waiting on a session that ends get an
// error at once, not a timeout.
func TestQueuedCallsFailOnTerminate(t *testing.T) {
	h := newFuncHandler()
	block := make(chan struct{})
	h.call = func(_ context.Context, msg any) (any, error) {
		if msg == "block" {
			<-block
		}
		return msg, nil
	}
	r := newTestRegistry(t, Config{CallTimeout: time.Minute, Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"q": h})}})
	s, _ := r.Start(t.Context(), Spec{Key: "q", Handler: "h"})
	go func() { _, _ = s.Call(context.Background(), "block") }()
	waitBusy(t, s)
	errc := make(chan error, 3)
	for range 3 {
		go func() { _, err := s.Call(context.Background(), "queued"); errc <- err }()
	}
	for s.Info().Mailbox < 3 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Terminate(t.Context()); err != nil {
		t.Fatal(err)
	}
	close(block)
	for range 3 {
		if err := <-errc; !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrTerminated) {
			t.Errorf("for a queued call of a terminated session, got %v, want ErrNotFound and ErrTerminated", err)
		}
	}
	h.waitEnded(t)
}

func TestConcurrentCalls(t *testing.T) {
	h := newFuncHandler()
	inside := 0
	var mu sync.Mutex
	h.call = func(_ context.Context, msg any) (any, error) {
		mu.Lock()
		inside++
		n := inside
		mu.Unlock()
		if n != 1 {
			return nil, fmt.Errorf("%d handlers inside", n)
		}
		time.Sleep(time.Microsecond)
		mu.Lock()
		inside--
		mu.Unlock()
		return msg, nil
	}
	r := newTestRegistry(t, Config{Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"c": h})}})
	s, _ := r.Start(t.Context(), Spec{Key: "c", Handler: "h"})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				got, err := s.Call(t.Context(), g*1000+i)
				if err != nil || got != g*1000+i {
					t.Errorf("for call %d/%d, got %v %v", g, i, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestTransitionsAndInfo(t *testing.T) {
	clk := NewManualClock(time.Unix(1_000_000, 0))
	r := newTestRegistry(t, Config{Clock: clk, TTL: time.Minute})
	ctx := t.Context()
	s, _ := r.Start(ctx, Spec{Key: "i"})
	for _, to := range []State{Authenticating, CharacterSelection, Playing, Disconnected, Playing, CharacterSelection} {
		if err := s.Transition(ctx, to); err != nil {
			t.Fatalf("transition to %v: %v", to, err)
		}
	}
	err := s.Transition(ctx, Connecting)
	var te *TransitionError
	if !errors.As(err, &te) || te.From != CharacterSelection || te.To != Connecting || !errors.Is(err, ErrTransition) {
		t.Fatalf("for CharacterSelection→Connecting, got %v, want a TransitionError naming both", err)
	}
	if err.Error() != "transition from character_selection to connecting not allowed" {
		t.Errorf("for the error text, got %q", err)
	}
	in := s.Info()
	if in.ID != "i" || in.StateName != "character_selection" || in.ExpiresAt != clk.Now().Add(time.Minute) {
		t.Errorf("for Info, got %+v", in)
	}
}

// TestCallTimeoutInterruptsBlockedHandler: a handler that blocks past the call's timeout and
// ignores its context does not hold the caller: the call returns DeadlineExceeded (context
// deadline) or ErrCallTimeout (Config.CallTimeout), and the session still handles one message
// at a time, in order, once the handler returns.
func TestCallTimeoutInterruptsBlockedHandler(t *testing.T) {
	h := newFuncHandler()
	block := make(chan struct{})
	entered := make(chan struct{}, 4)
	var inside atomic.Int32
	h.call = func(_ context.Context, msg any) (any, error) {
		if inside.Add(1) != 1 {
			t.Errorf("two handlers inside at %v", msg)
		}
		defer inside.Add(-1)
		if msg == "block" {
			entered <- struct{}{}
			<-block // ignores ctx
		}
		return msg, nil
	}
	h.cast = func(any) {
		if inside.Add(1) != 1 {
			t.Error("a cast ran beside a call")
		}
		inside.Add(-1)
	}
	r := newTestRegistry(t, Config{CallTimeout: 30 * time.Millisecond, Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"b": h})}})
	s, _ := r.Start(t.Context(), Spec{Key: "b", Handler: "h"})
	wait := func(what string, c <-chan error) error {
		t.Helper()
		select {
		case err := <-c:
			return err
		case <-time.After(5 * time.Second):
			close(block)
			t.Fatalf("%s: still blocked after 5 s", what)
			return nil
		}
	}
	call := func(ctx context.Context, msg any) <-chan error {
		c := make(chan error, 1)
		go func() { _, err := s.Call(ctx, msg); c <- err }()
		return c
	}
	waitEntered := func() {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the handler never ran the blocking call")
		}
	}

	// The deadline (generous, so that the call is not skipped before it starts on a loaded
	// machine) passes while the handler blocks.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	c := call(ctx, "block")
	waitEntered()
	if err := wait("a call whose handler blocks past its deadline", c); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("for a call whose handler blocks past its deadline, got %v, want DeadlineExceeded", err)
	}
	if err := s.Cast("c1"); err != nil { // queued behind the blocked handler
		t.Fatal(err)
	}
	if err := wait("a call to the blocked session", call(context.Background(), "waits")); !errors.Is(err, ErrCallTimeout) {
		t.Errorf("for a call without deadline to the blocked session, got %v, want ErrCallTimeout", err)
	}
	close(block)
	if got, err := s.Call(t.Context(), "after"); err != nil || got != "after" {
		t.Errorf("for a call after the handler returned, got %v %v", got, err)
	}
	if got := h.castsSeen(); len(got) != 1 || got[0] != "c1" {
		t.Errorf("for casts handled, got %v, want [c1]", got)
	}

	// No deadline: CallTimeout passes while the handler blocks.
	block = make(chan struct{})
	defer close(block)
	c = call(context.Background(), "block")
	if err := wait("a call without deadline whose handler blocks", c); !errors.Is(err, ErrCallTimeout) {
		t.Errorf("for a call without deadline whose handler blocks, got %v, want ErrCallTimeout", err)
	}
	waitEntered() // it still runs, and holds the session until released
}

// TestCallFullMailbox: a Call to a session whose mailbox holds MailboxSize messages is refused
// with ErrMailboxFull at once, like a Cast; queued calls count towards the bound.
func TestCallFullMailbox(t *testing.T) {
	h := newFuncHandler()
	block := make(chan struct{})
	h.call = func(_ context.Context, msg any) (any, error) {
		if msg == "block" {
			<-block
		}
		return msg, nil
	}
	r := newTestRegistry(t, Config{MailboxSize: 3, CallTimeout: time.Minute, Handlers: map[string]HandlerFactory{"h": factoryOf(map[string]*funcHandler{"m": h})}})
	s, _ := r.Start(t.Context(), Spec{Key: "m", Handler: "h"})
	done := make(chan struct{})
	go func() { defer close(done); _, _ = s.Call(context.Background(), "block") }()
	waitBusy(t, s)
	queued := make(chan error, 1)
	go func() { _, err := s.Call(context.Background(), "queued"); queued <- err }()
	for s.Info().Mailbox < 1 {
		time.Sleep(time.Millisecond)
	}
	for i := range 2 {
		if err := s.Cast(i); err != nil {
			t.Fatalf("for cast %d, got %v", i, err)
		}
	}
	t0 := time.Now()
	if _, err := s.Call(t.Context(), "one more"); !errors.Is(err, ErrMailboxFull) {
		t.Errorf("for a call to a full mailbox, got %v, want ErrMailboxFull", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("the refused call took %v", d)
	}
	if err := s.Cast("one more"); !errors.Is(err, ErrMailboxFull) {
		t.Errorf("for a cast to a full mailbox, got %v, want ErrMailboxFull", err)
	}
	if got := s.Info().Mailbox; got != 3 {
		t.Errorf("for Info.Mailbox, got %d, want 3", got)
	}
	close(block)
	<-done
	if err := <-queued; err != nil {
		t.Errorf("for the queued call, got %v", err)
	}
	if got, err := s.Call(t.Context(), "after"); err != nil || got != "after" {
		t.Errorf("for a call once drained, got %v %v", got, err)
	}
	if st := r.Stats(); st.MailboxFull != 2 {
		t.Errorf("for Stats.MailboxFull, got %d, want 2", st.MailboxFull)
	}
}

// TestSessionSize keeps the session struct in the 128 B size class (BenchmarkIdleMemory's
// budget counts on it; 136 B would cost a 144 B allocation).
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n > 128 {
		t.Errorf("for the size of Session, got %d B, want at most 128", n)
	}
}
