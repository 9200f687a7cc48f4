package sessioncore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// How a Call that is not inline waits for its reply, and how it times out.
//
// The caller parks on a plain receive from its waiter's channel (a select only when its ctx can
// be cancelled). Exactly one party answers each call, the one that flips the waiter's state
// from pending to answered: the session's owner with the handler's reply, the registry's ticker
// when CallTimeout passed, or the caller itself when its ctx is done. A waiter goes back to the
// pool only when the owner answered (the owner is then done with it); one answered by the
// ticker or the caller may still be in a mailbox, and is left to the collector.
//
// CallTimeout is driven by the registry's ticker rather than a runtime timer per call: a call
// with no ctx deadline links its waiter at the tail of one of the registry's call lists, under
// that list's lock, with deadline = the ticker's monotonic clock + CallTimeout + one
// ClockResolution (the clock can be one resolution stale). All deadlines in a list come from
// the same timeout and a clock that only moves forward, so a list is in deadline order and the
// ticker only looks at its heads: a tick costs per call that times out, not per call in flight.
// A call therefore times out between CallTimeout and CallTimeout + 2×ClockResolution.
//
// Note: before this, every call reset and stopped a runtime timer and parked in a three-way
// select (reply, ctx, timer), and the call goroutine parked in a two-way select (next session,
// stop): the selects' channel locks and sudogs were half of a ~0.9 µs round trip (profile).

// errTimedOut is what the ticker answers a call with; the caller wraps ErrCallTimeout instead
// (a handler cannot return this unexported value).
var errTimedOut = errors.New("sessioncore: call timed out")

type waiter struct {
	ctx   context.Context
	ch    chan struct{} // buffered: the one answer of the current call is in res
	res   callResult    // written by the one who answered, before its send on ch
	state atomic.Uint64 // 2×generation, +1 once answered
	list  uint32        // which of the registry's call lists it goes in

	// Guarded by the call list's lock.
	prev, next *waiter
	deadline   int64 // on the ticker's monotonic clock, ns
	armed      bool
}

type callResult struct {
	reply any
	err   error
}

var waiterLists atomic.Uint32

var waiterPool = sync.Pool{New: func() any {
	return &waiter{ch: make(chan struct{}, 1), list: waiterLists.Add(1)}
}}

// begin starts a new generation of w for a call and returns its pending state.
func (w *waiter) begin(ctx context.Context) uint64 {
	w.ctx = ctx
	st := (w.state.Load() | 1) + 1
	w.state.Store(st)
	return st
}

// answer delivers res unless the call was answered already (st is the pending state seen).
// Note: the reply is stored in w and the channel carries nothing: a 32 B element with pointers
// cost a typed copy and a bulk write barrier check per hand-off.
func (w *waiter) answer(st uint64, res callResult) {
	if w.state.CompareAndSwap(st, st|1) {
		w.res = res
		w.ch <- struct{}{}
	}
}

// result takes the answer once it was received from w.ch.
func (w *waiter) result() callResult {
	res := w.res
	w.res = callResult{}
	return res
}

// callList is one list of calls waiting for a reply with a CallTimeout deadline, oldest first.
type callList struct {
	mu         sync.Mutex
	head, tail *waiter
	_          [40]byte // keep lists on separate cache lines
}

// arm puts w, whose call has no ctx deadline, on its call list.
func (r *Registry) arm(w *waiter) {
	l := &r.calls[w.list&uint32(len(r.calls)-1)]
	l.mu.Lock()
	w.deadline = r.mono.Load() + r.callTimeout
	w.prev, w.next, w.armed = l.tail, nil, true
	if l.tail == nil {
		l.head = w
	} else {
		l.tail.next = w
	}
	l.tail = w
	l.mu.Unlock()
}

// disarm takes w off its call list if the ticker has not.
func (r *Registry) disarm(w *waiter) {
	l := &r.calls[w.list&uint32(len(r.calls)-1)]
	l.mu.Lock()
	if w.armed {
		l.unlinkLocked(w)
	}
	l.mu.Unlock()
}

func (l *callList) unlinkLocked(w *waiter) {
	if w.prev == nil {
		l.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		l.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.armed = nil, nil, false
}

// timedOut is a call the ticker found past its deadline: the waiter and the state it was
// pending in.
type timedOut struct {
	w  *waiter
	st uint64
}

// expireCalls answers the calls whose deadline is at or before now (monotonic ns) with
// errTimedOut; buf is reused between ticks.
func (r *Registry) expireCalls(now int64, buf []timedOut) []timedOut {
	buf = buf[:0]
	for i := range r.calls {
		l := &r.calls[i]
		l.mu.Lock()
		for w := l.head; w != nil && w.deadline <= now; w = l.head {
			buf = append(buf, timedOut{w, w.state.Load()})
			l.unlinkLocked(w)
		}
		l.mu.Unlock()
	}
	for _, t := range buf {
		if t.st&1 == 0 {
			t.w.answer(t.st, callResult{err: errTimedOut})
		}
	}
	clear(buf)
	return buf
}

// taskCount counts the scheduled runs of sessions (see submit) so that Close can wait for them:
// an atomic counter, plus a flag that Wait adds while it waits; the run that takes the count to
// zero under the flag wakes Wait. Note: sync.WaitGroup did the same with more work per Add and
// Done (its synctest and race checks, a second word for waiters); a call pays one Add and one
// Done, and the two were a tenth of the instructions a call adds to the bare round trip.
type taskCount struct {
	n    atomic.Int64  // runs in flight, + taskWaiting while Wait waits
	idle chan struct{} // made by Wait before it sets the flag
}

const taskWaiting = 1 << 40

func (t *taskCount) Add(n int) { t.n.Add(int64(n)) }

func (t *taskCount) Done() {
	if t.n.Add(-1) == taskWaiting {
		select { // one Wait, one wake-up; a stray later one must not block
		case t.idle <- struct{}{}:
		default:
		}
	}
}

// Wait waits until no run is in flight; called once, by Close.
func (t *taskCount) Wait() {
	t.idle = make(chan struct{}, 1)
	if t.n.Add(taskWaiting) != taskWaiting {
		<-t.idle
	}
}

// maxSpareCallers bounds the call goroutines kept parked between calls.
const maxSpareCallers = 16

// callGoroutine is a parked call goroutine: it takes its next session from next, nil to exit.
type callGoroutine struct{ next chan *Session }

// goCall runs s's mailbox, which holds a call, on a goroutine of its own (a call to a user
// handler must be interruptible by the caller's timeout, so it never waits for a shared
// worker that another handler may block): the goroutine parked last when one waits, else a new
// one. The caller has counted the task in r.tasks.
// Note: Go has no goroutine cache; waking a parked goroutine costs a channel hand-off,
// starting one also a stack and its scheduling, which was most of a call's round trip. The
// parked ones wait on a channel of their own with a plain receive (the registry's stop is sent
// to each as nil) instead of a select on a shared channel and the stop channel, and the one
// parked last waits in r.hot, taken with one CAS instead of a lock and an unlock.
func (r *Registry) goCall(s *Session) {
	if g := r.hot.Load(); g != nil && g != stoppedCaller && r.hot.CompareAndSwap(g, nil) {
		g.next <- s
		return
	}
	r.idleMu.Lock()
	if n := len(r.idle); n > 0 {
		g := r.idle[n-1]
		r.idle[n-1] = nil
		r.idle = r.idle[:n-1]
		r.idleMu.Unlock()
		g.next <- s
		return
	}
	r.idleMu.Unlock()
	r.wg.Add(1) // the goroutine's own life, so that Close waits for it to exit
	go r.caller(s)
}

// stoppedCaller in r.hot means the registry stopped: no call goroutine parks any more.
var stoppedCaller = &callGoroutine{}

// caller drains s, then parks for the next session of goCall while fewer than
// maxSpareCallers are parked, until the registry stops.
func (r *Registry) caller(s *Session) {
	defer r.wg.Done()
	g := &callGoroutine{next: make(chan *Session, 1)}
	for s != nil {
		s.drain()
		r.tasks.Done()
		if !r.hot.CompareAndSwap(nil, g) {
			r.idleMu.Lock()
			if r.idleStopped || len(r.idle) >= maxSpareCallers-1 {
				r.idleMu.Unlock()
				return
			}
			r.idle = append(r.idle, g)
			r.idleMu.Unlock()
		}
		s = <-g.next
	}
}

// stopCallers ends the parked call goroutines and keeps new ones from parking.
func (r *Registry) stopCallers() {
	if g := r.hot.Swap(stoppedCaller); g != nil {
		g.next <- nil
	}
	r.idleMu.Lock()
	r.idleStopped = true
	for _, g := range r.idle {
		g.next <- nil
	}
	r.idle = nil
	r.idleMu.Unlock()
}
