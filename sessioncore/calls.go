package sessioncore

import (
	"context"
	"errors"
	"sync/atomic"
)

// How a Call that is not inline waits for its reply, and how it times out.
//
// The caller parks on a plain receive from its waiter's channel (a select only when its ctx can
// be cancelled). Exactly one party answers each call, the one that flips the waiter's state
// from pending to answered: the session's owner with the handler's reply, the registry's ticker
// when CallTimeout passed, or the caller itself when its ctx is done. A waiter goes back to its
// registry's pool only when the owner answered (the owner is then done with it); one answered
// by the ticker or the caller may still be in a mailbox, and is left to the collector.
//
// CallTimeout is driven by the registry's ticker rather than a runtime timer per call. A call
// with no ctx deadline gets deadline = the ticker's call clock + CallTimeout + two
// ClockResolutions (the clock counts ticks and can be one stale: see Registry.ticker), and the
// deadline is part of the
// waiter's state word (its stamp, see begin): the word the caller stores anyway to start the
// call, so arming a call costs no store of its own, and nothing is undone when it is answered.
// The ticker finds the waiters through a timing wheel per call list: wheelSlots slots, slot
// (deadline ÷ ClockResolution) mod wheelSlots, each a lock-free stack. A waiter is linked in at
// most one slot (its linked flag) and stays there across calls: each tick the ticker takes the
// slots whose time has come, answers the waiters whose pending call is past its deadline with
// errTimedOut, links the ones whose pending call is due later into the slot of that deadline,
// and drops the rest (answered, or no CallTimeout). So a call only links its waiter when the
// waiter is in no slot: its first call, or the first after the ticker dropped it (it was idle
// for a turn of the wheel); a waiter reused at once, as a session's calls reuse it, is already
// in. A tick costs per linked waiter whose slot comes round (every wheelSlots ticks while the
// waiter is in use), not per call. A call times out between CallTimeout and CallTimeout +
// 2×ClockResolution after it began, as when the calls waited in deadline-ordered lists.
//
// Note: before this, every call reset and stopped a runtime timer and parked in a three-way
// select (reply, ctx, timer), and the call goroutine parked in a two-way select (next session,
// stop): the selects' channel locks and sudogs were half of a ~0.9 µs round trip (profile).
// Then each call linked its waiter into a deadline-ordered list and unlinked it after the
// reply, under the list's lock: two lock pairs per call, ~100 instructions (callgrind).

// errTimedOut is what the ticker answers a call with; the caller wraps ErrCallTimeout instead
// (a handler cannot return this unexported value).
var errTimedOut = errors.New("sessioncore: call timed out")

type waiter struct {
	ctx context.Context
	ch  chan struct{} // buffered: the one answer of the current call is in res
	res callResult    // written by the one who answered, before its send on ch
	// state: bit 0 answered, bit 1 timed (CallTimeout applies), bits 2–63 the call's stamp:
	// larger for every call of the waiter and, for a timed call, at least its deadline (see
	// begin).
	state       atomic.Uint64
	list        uint32      // which of the registry's call lists it goes in
	cancellable bool        // ctx.Done() != nil: the owner checks ctx.Err() before running it
	linked      atomic.Bool // in a slot of its call list's wheel
	tnext       *waiter     // the next in that slot
}

const (
	answeredBit = 1
	timedBit    = 2
)

type callResult struct {
	reply any
	err   error
}

var waiterLists atomic.Uint32

// getWaiter returns a waiter of r's: waiters are not shared between registries, because a
// waiter stays linked in its registry's wheel between calls.
func (r *Registry) getWaiter() *waiter {
	if w, _ := r.waiters.Get().(*waiter); w != nil {
		return w
	}
	return &waiter{ch: make(chan struct{}, 1), list: waiterLists.Add(1)}
}

// putWaiter gives back a waiter whose call the owner answered (or that began no call).
func (r *Registry) putWaiter(w *waiter) {
	w.ctx = nil
	r.waiters.Put(w)
}

// callDeadline returns the CallTimeout deadline of a call with ctx, whose Done channel is done
// (-1: ctx has a deadline of its own). Note: a ctx that is never done (context.Background) has
// no deadline either, so Call makes the Deadline call only for one that can be (done set).
func (r *Registry) callDeadline(ctx context.Context, done <-chan struct{}) int64 {
	if done != nil {
		if _, ok := ctx.Deadline(); ok {
			return -1
		}
	}
	return r.mono.Load() + r.callTimeout
}

// begin starts a new call on w and returns its pending state. deadline is its CallTimeout
// deadline (-1: none); the stamp is the previous one + 1, or the deadline when that is larger,
// so it is never before the deadline and passes it by at most the calls the waiter made with
// one reading of the coarse clock, ns each (microseconds at most, against a ClockResolution of
// milliseconds).
func (w *waiter) begin(ctx context.Context, done <-chan struct{}, deadline int64) uint64 {
	w.ctx = ctx
	w.cancellable = done != nil
	stamp := w.state.Load()>>2 + 1
	st := stamp << 2
	if deadline >= 0 {
		st = max(stamp, uint64(deadline))<<2 | timedBit
	}
	w.state.Store(st)
	return st
}

// answer delivers res unless the call was answered already (st is the pending state seen).
// Note: the reply is stored in w and the channel carries nothing: a 32 B element with pointers
// cost a typed copy and a bulk write barrier check per hand-off.
func (w *waiter) answer(st uint64, res callResult) {
	if w.state.CompareAndSwap(st, st|answeredBit) {
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

// wheelSlots is the number of slots of a call list's wheel (a turn is wheelSlots ticks).
const wheelSlots = 15

// callList is one of the registry's call lists: a timing wheel of waiters (see above). Its
// 128 B keep lists on separate cache lines.
type callList struct {
	slots [wheelSlots]atomic.Pointer[waiter]
	next  int64 // the ticker's: the first slot number (deadline ÷ ClockResolution) not passed
}

func (r *Registry) slotOf(stamp uint64) int {
	return int(stamp / uint64(r.cfg.ClockResolution) % wheelSlots)
}

// link pushes w, whose linked flag the caller set, on slot i.
func (l *callList) link(w *waiter, i int) {
	h := &l.slots[i]
	for {
		old := h.Load()
		w.tnext = old
		if h.CompareAndSwap(old, w) {
			return
		}
	}
}

// arm makes sure the ticker will see w's call, begun in state st with a CallTimeout deadline:
// w is linked in its wheel already (the ticker moves it to the slot of this deadline when its
// slot comes), or the caller links it now.
func (r *Registry) arm(w *waiter, st uint64) {
	if !w.linked.Load() {
		r.linkNew(w, st) // out of line, so that arm is inlined
	}
}

func (r *Registry) linkNew(w *waiter, st uint64) {
	if w.linked.CompareAndSwap(false, true) {
		r.calls[w.list&uint32(len(r.calls)-1)].link(w, r.slotOf(st>>2))
	}
}

// timedOut is a call the ticker found past its deadline: the waiter and the state it was
// pending in.
type timedOut struct {
	w  *waiter
	st uint64
}

// expireCalls answers the calls whose deadline is at or before now (monotonic ns) with
// errTimedOut, and moves or drops the other waiters of the slots it passes (see above). buf
// is reused between ticks.
func (r *Registry) expireCalls(now int64, buf []timedOut) []timedOut {
	buf = buf[:0]
	cur := now / int64(r.cfg.ClockResolution)
	for i := range r.calls {
		l := &r.calls[i]
		from := max(l.next, cur-wheelSlots+1) // a late ticker visits each slot once
		for k := from; k <= cur; k++ {
			h := &l.slots[k%wheelSlots]
			if h.Load() == nil {
				continue
			}
			for w := h.Swap(nil); w != nil; {
				next := w.tnext
				w.tnext = nil
				// Unlinked before its state is read: a call that begins after this sees the
				// flag clear and links w itself; one that began before is seen below.
				w.linked.Store(false)
				st := w.state.Load()
				if st&(answeredBit|timedBit) == timedBit {
					if int64(st>>2) <= now {
						buf = append(buf, timedOut{w, st})
					} else if w.linked.CompareAndSwap(false, true) {
						l.link(w, r.slotOf(st>>2))
					}
				}
				w = next
			}
		}
		l.next = cur // the current slot is visited again next tick
	}
	for _, t := range buf {
		t.w.answer(t.st, callResult{err: errTimedOut})
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

// callGoroutine is a call goroutine: parked, it takes its next session from next, nil to exit,
// and the call handed over with it from first (written before the send on next).
type callGoroutine struct {
	next  chan *Session
	first envelope

	// What it runs, for its recover (see runCalls): the session, the message whose handler
	// is running (w nil: a cast) and the batch taken with it (its handled messages cleared).
	s         *Session
	w         *waiter
	st        uint64
	rest      []envelope
	inHandler bool
}

// goCall runs s's call on a goroutine of its own (a call to a user handler must be
// interruptible by the caller's timeout, so it never waits for a shared worker that another
// handler may block): the goroutine parked last when one waits, else a new one. first is the
// call handed over with s (no w: the calls are in the mailbox). The caller has counted the
// task in r.tasks, and has tried r.hot itself: Call writes that step out (a CAS on r.hot,
// then the hand-off; as a function it was not inlined), and goCall is the rest.
// Note: Go has no goroutine cache; waking a parked goroutine costs a channel hand-off,
// starting one also a stack and its scheduling, which was most of a call's round trip. The
// parked ones wait on a channel of their own with a plain receive (the registry's stop is sent
// to each as nil) instead of a select on a shared channel and the stop channel, and the one
// parked last waits in r.hot, taken with one CAS instead of a lock and an unlock.
func (r *Registry) goCall(s *Session, first envelope) {
	r.idleMu.Lock()
	if n := len(r.idle); n > 0 {
		g := r.idle[n-1]
		r.idle[n-1] = nil
		r.idle = r.idle[:n-1]
		r.idleMu.Unlock()
		g.first = first
		g.next <- s
		return
	}
	r.idleMu.Unlock()
	r.wg.Add(1) // the goroutine's own life, so that Close waits for it to exit
	go r.caller(s, first)
}

// stoppedCaller in r.hot means the registry stopped: no call goroutine parks any more.
var stoppedCaller = &callGoroutine{}

// caller runs s (first, then its mailbox), then parks for the next session of goCall while
// fewer than maxSpareCallers are parked, until the registry stops.
func (r *Registry) caller(s *Session, first envelope) {
	defer r.wg.Done()
	g := &callGoroutine{next: make(chan *Session, 1)}
	for !r.runCalls(g, s, first) {
		r.tasks.Done() // the run a handler's panic ended
		if !r.park(g) {
			return
		}
		if s = <-g.next; s == nil {
			return
		}
		first, g.first = g.first, envelope{}
	}
}

// runCalls runs s and then the sessions handed to g until the registry stops (true), or until a
// handler panics: its deferred recover then ends that session as a crash, as invokeCall's
// callers do (the call gets the panic as an error wrapping ErrCrashed, the rest of the batch
// fails), and it returns false. Note: one recover for all the calls of the goroutine instead
// of a deferred one per call (invokeCall's): the deferred closure and runtime.gorecover were
// ~60 instructions of a call.
func (r *Registry) runCalls(g *callGoroutine, s *Session, first envelope) (stopped bool) {
	defer func() {
		if !g.inHandler {
			return // stopped, or a panic of ours: not recovered
		}
		p := recover()
		if p == nil {
			return // the handler called runtime.Goexit
		}
		g.inHandler = false
		s := g.s
		if w := g.w; w != nil {
			w.answer(g.st, callResult{err: s.panicked(p)})
		}
		s.crash()
		s.failCalls(g.rest)
		g.s, g.w, g.rest = nil, nil, nil
	}()
	for {
		g.s = s
		s.runCall(first, g)
		r.tasks.Done()
		if !r.hot.CompareAndSwap(nil, g) && !r.park(g) {
			return true
		}
		if s = <-g.next; s == nil {
			return true
		}
		first, g.first = g.first, envelope{}
	}
}

// park puts g, which did not find r.hot empty, on the idle list; false when the registry
// stopped or enough goroutines are parked.
func (r *Registry) park(g *callGoroutine) bool {
	r.idleMu.Lock()
	defer r.idleMu.Unlock()
	if r.idleStopped || len(r.idle) >= maxSpareCallers-1 {
		return false
	}
	r.idle = append(r.idle, g)
	return true
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
