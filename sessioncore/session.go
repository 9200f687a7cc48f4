package sessioncore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Session is one live session: a logical process that handles its messages one at a time.
// It holds no goroutine while idle. Its methods are safe for concurrent use; after the session
// ended they return ErrNotFound.
type Session struct {
	id         string
	reg        *Registry
	kind       *handlerKind
	handler    Handler      // nil: the default handler
	lastActive atomic.Int64 // coarse Unix ns of the last activity
	created    int64        // Unix ns
	ttl        int64        // idle TTL in ns, 0: none
	hard       int64        // absolute deadline in Unix ns, 0: none

	// Guarded by the shard's lock: its place in the expiry wheel and in the index.
	wb   *bucket // nil: not in the wheel
	sl   *slot   // its slot in the index (nil: removed)
	widx int32   // index in wb.ss

	state atomic.Uint32

	mu     sync.Mutex
	busy   bool          // someone (an inline caller or a worker) owns the handler
	dead   bool          // ended; never runs a handler again
	reason uint8         // why it ended (reasons index)
	ws     atomic.Uint32 // the state of ext.w (waiterInUse, also while nil; waiterFree, waiterLost)
	ext    *sessionExt
}

// sessionExt holds what an idle session rarely needs, allocated on first use.
type sessionExt struct {
	q     []envelope     // mailbox, oldest first
	spare []envelope     // the buffer the owner gave back, reused by the next take
	kv    map[string]any // the default handler's store
	// w is the session's own waiter, which its calls reuse one at a time (nil: none yet; set
	// under mu); Session.ws says whether a call uses it. Note: a flag beside a fixed pointer
	// rather than an atomic pointer swapped out and back in: pointer atomics are calls into the
	// runtime (for the write barrier), ~20 instructions each against a few for an integer.
	// (The flag is in the Session, in what was padding, so this stays 64 B.)
	w *waiter
}

// The states of a session's own waiter (Session.ws).
const (
	waiterInUse = iota // by a call
	waiterFree         // for the next call
	waiterLost         // its call timed out or was given up: the next call replaces it
)

// freeOwnWaiterLocked gives the session's own waiter, unless a call uses it, back to the pool.
func (s *Session) freeOwnWaiterLocked(x *sessionExt) {
	switch {
	case x.w == nil:
	case s.ws.CompareAndSwap(waiterFree, waiterInUse):
		s.reg.putWaiter(x.w)
		x.w = nil
	case s.ws.CompareAndSwap(waiterLost, waiterInUse):
		x.w = nil
	}
}

// envelope is a queued message; w is nil for a cast.
type envelope struct {
	msg any
	w   *waiter
}

var reasons = [...]error{nil, ErrTerminated, ErrExpired, ErrCrashed, ErrShutdown, ErrStartAborted}

func reasonCode(err error) uint8 {
	if err == ErrExpired { // the sweep's, once per expired session
		return 2
	}
	for i, e := range reasons {
		if e == err {
			return uint8(i)
		}
	}
	return 1
}

// ID returns the session's ID.
func (s *Session) ID() string { return s.id }

// Handler returns the name of the session's handler.
func (s *Session) Handler() string { return s.kind.name }

// State returns the session's current state.
func (s *Session) State() State { return State(s.state.Load()) }

// Touch records activity now (the registry's coarse clock), pushing back idle expiry. It does
// not allocate; with a Persister it also calls Persister.Touch.
func (s *Session) Touch() {
	now := s.reg.now.Load()
	if s.lastActive.Load() != now { // within one tick, a busy session's line stays shared
		s.lastActive.Store(now)
	}
	if p := s.reg.cfg.Persister; p != nil {
		p.Touch(s.id, time.Unix(0, now))
	}
}

// Expired reports whether the session's idle TTL or lifetime has run out by the registry's
// coarse clock. An expired session stays reachable until the next sweep.
func (s *Session) Expired() bool {
	now := s.reg.now.Load()
	if s.ttl != 0 && now-s.lastActive.Load() >= s.ttl {
		return true
	}
	return s.hard != 0 && now >= s.hard
}

// deadline returns when the session expires as things stand (0: never).
func (s *Session) deadline() int64 {
	var d int64
	if s.ttl != 0 {
		d = s.lastActive.Load() + s.ttl
	}
	if s.hard != 0 && (d == 0 || s.hard < d) {
		d = s.hard
	}
	return d
}

// Transition moves the session to state to. It returns the machine's *TransitionError
// (without allocating) when the edge is not allowed, ErrNotFound when the session ended, or
// the Persister's Save error (wrapped; the transition is kept).
func (s *Session) Transition(ctx context.Context, to State) error {
	r := s.reg
	var t0 time.Time
	if r.cfg.Hooks.OnTransition != nil {
		t0 = time.Now()
	}
	var from State
	for {
		cur := s.state.Load()
		from = State(cur)
		if err := r.machine.Check(from, to); err != nil {
			return err
		}
		if s.state.CompareAndSwap(cur, uint32(to)) {
			break
		}
	}
	if p := r.cfg.Persister; p != nil {
		if err := p.Save(ctx, s.record()); err != nil {
			return fmt.Errorf("transition of session %s: saving: %w", s.id, err)
		}
	}
	if h := r.cfg.Hooks.OnTransition; h != nil {
		h(s.id, from, to, time.Since(t0))
	}
	return nil
}

// Call sends msg to the session and returns the handler's reply. The call is queued in the
// session's mailbox and run on a call goroutine, and Call waits for the reply until ctx is done
// (ctx.Err(), wrapped) or, when ctx has no deadline, Config.CallTimeout passes (ErrCallTimeout,
// wrapped; checked every ClockResolution, so up to two of those late) — also when the handler
// is running and blocks: it keeps the session until it
// returns, and its reply is dropped. The default handler, and every handler with
// Config.InlineCalls, is instead run on the calling goroutine when the session is idle: no
// hand-off, but such a call cannot be interrupted (the handler gets ctx). A call to a session
// with MailboxSize messages queued returns ErrMailboxFull at once. A panic in the handler ends
// the session (ErrCrashed) and is returned as an error wrapping ErrCrashed.
func (s *Session) Call(ctx context.Context, msg any) (any, error) {
	r := s.reg
	if r.closed.Load() {
		return nil, ErrClosed
	}
	var t0 time.Time
	hook := r.cfg.Hooks.OnCall
	if hook != nil {
		t0 = time.Now()
	}
	r.st.calls.Add(1)
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		r.st.errors.Add(1)
		return nil, ErrNotFound
	}
	if !s.busy && (s.handler == nil || r.cfg.InlineCalls) && s.queuedLocked() == 0 {
		s.busy = true
		s.mu.Unlock()
		s.Touch()
		reply, err, crashed := s.invokeCall(ctx, msg)
		if crashed {
			s.crash()
		} else {
			s.release()
		}
		if err != nil {
			r.st.errors.Add(1)
		}
		if hook != nil {
			hook(s.id, time.Since(t0), err)
		}
		return reply, err
	}
	if s.queuedLocked() >= r.cfg.MailboxSize {
		s.mu.Unlock()
		r.st.errors.Add(1)
		r.st.mailboxFull.Add(1)
		if hook != nil {
			hook(s.id, time.Since(t0), ErrMailboxFull)
		}
		return nil, ErrMailboxFull
	}
	deadline := r.mono.Load() + r.callTimeout // (callDeadline, inlined by hand)
	done := ctx.Done()
	if done != nil {
		deadline = r.callDeadline(ctx, done)
	}
	x := s.extLocked()
	w, own := x.w, true
	switch {
	case s.ws.CompareAndSwap(waiterFree, waiterInUse):
	case w == nil || s.ws.CompareAndSwap(waiterLost, waiterInUse):
		w = r.getWaiter()
		x.w = w
	default: // another call uses it
		w, own = r.getWaiter(), false
	}
	st := w.begin(ctx, done, deadline)
	// A call to an idle session with an empty mailbox is handed to its call goroutine with the
	// session instead of through the mailbox; any other is queued.
	var first envelope
	sched := !s.busy
	if sched && len(x.q) == 0 {
		first = envelope{msg: msg, w: w}
	} else {
		x.q = append(x.q, envelope{msg: msg, w: w})
	}
	s.busy = true
	if sched {
		// Counted under the session's lock: Close ends this session (taking the lock) before
		// it waits for the tasks, so the count is up before that wait.
		r.tasks.Add(1)
	}
	s.mu.Unlock()
	// s.Touch(), and for a call to an idle session the first step of goCall (see there),
	// written out: the compiler does not inline them.
	now := r.now.Load()
	if s.lastActive.Load() != now {
		s.lastActive.Store(now)
	}
	if p := r.cfg.Persister; p != nil {
		p.Touch(s.id, time.Unix(0, now))
	}
	if sched {
		if g := r.hot.Load(); g != nil && g != stoppedCaller && r.hot.CompareAndSwap(g, nil) {
			g.first = first
			g.next <- s
		} else {
			r.goCall(s, first)
		}
	}
	if deadline >= 0 {
		r.arm(w, st)
	}
	var res callResult
	gaveUp := false
	if done == nil {
		<-w.ch
		res = w.result()
	} else {
		select {
		case <-w.ch:
			res = w.result()
		case <-done:
			if gaveUp = w.state.CompareAndSwap(st, st|answeredBit); !gaveUp {
				<-w.ch // answered meanwhile: the answer is on its way
				res = w.result()
			}
		}
	}
	// Note: w is reused only when the owner answered (it is then done with it); when the
	// caller gave up or the ticker answered, the owner may still hold w in the mailbox.
	lost := gaveUp || res.err == errTimedOut
	switch {
	case own && lost:
		s.ws.Store(waiterLost)
	case own:
		w.ctx = nil
		s.ws.Store(waiterFree)
	case !lost:
		r.putWaiter(w)
	}
	if lost {
		if gaveUp {
			res.err = fmt.Errorf("calling session %s: %w", s.id, ctx.Err())
		} else {
			res.err = fmt.Errorf("calling session %s: %w", s.id, ErrCallTimeout)
		}
	}
	if res.err != nil {
		r.st.errors.Add(1)
	}
	if hook != nil {
		hook(s.id, time.Since(t0), res.err)
	}
	return res.reply, res.err
}

// Cast queues msg for the session's HandleCast and returns at once. It returns ErrMailboxFull
// when Config.MailboxSize messages are already queued, ErrNotFound when the session ended.
func (s *Session) Cast(msg any) error {
	r := s.reg
	if r.closed.Load() {
		return ErrClosed
	}
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		r.st.errors.Add(1)
		return ErrNotFound
	}
	if s.queuedLocked() >= r.cfg.MailboxSize {
		s.mu.Unlock()
		r.st.errors.Add(1)
		r.st.mailboxFull.Add(1)
		if h := r.cfg.Hooks.OnCast; h != nil {
			h(s.id, ErrMailboxFull)
		}
		return ErrMailboxFull
	}
	s.pushLocked(envelope{msg: msg})
	sched := !s.busy
	s.busy = true
	if sched {
		r.tasks.Add(1) // under the session's lock, as in Call (see submit)
	}
	s.mu.Unlock()
	s.Touch()
	r.st.casts.Add(1)
	if sched {
		r.submit(s)
	}
	if h := r.cfg.Hooks.OnCast; h != nil {
		h(s.id, nil)
	}
	return nil
}

// Terminate ends the session with reason ErrTerminated (see Registry.Terminate). It returns
// ErrNotFound when the session already ended.
func (s *Session) Terminate(ctx context.Context) error {
	if !s.reg.remove(s) {
		return ErrNotFound
	}
	return s.reg.end(ctx, s, ErrTerminated, false)
}

// Info describes a session at one moment.
type Info struct {
	// ID is the session's ID.
	ID string
	// Handler is the handler's name.
	Handler string
	// State is the state machine's state, StateName its name.
	State     State
	StateName string
	// CreatedAt and LastActive are by the registry's coarse clock.
	CreatedAt, LastActive time.Time
	// ExpiresAt is when the session expires if it stays idle (zero: never).
	ExpiresAt time.Time
	// Mailbox is the number of queued messages.
	Mailbox int
}

// Info returns a snapshot of the session.
func (s *Session) Info() Info {
	st := s.State()
	in := Info{
		ID: s.id, Handler: s.kind.name, State: st, StateName: s.reg.machine.Name(st),
		CreatedAt: time.Unix(0, s.created), LastActive: time.Unix(0, s.lastActive.Load()),
	}
	if d := s.deadline(); d != 0 {
		in.ExpiresAt = time.Unix(0, d)
	}
	s.mu.Lock()
	in.Mailbox = s.queuedLocked()
	s.mu.Unlock()
	return in
}

func (s *Session) record() Record {
	in := s.Info()
	return Record{
		ID: s.id, Handler: in.Handler, State: in.StateName,
		CreatedAt: in.CreatedAt.UTC(), LastActive: in.LastActive.UTC(), ExpiresAt: in.ExpiresAt,
	}
}

func (s *Session) extLocked() *sessionExt {
	if s.ext == nil {
		s.ext = &sessionExt{}
	}
	return s.ext
}

func (s *Session) pushLocked(e envelope) {
	x := s.extLocked()
	x.q = append(x.q, e)
}

func (s *Session) queuedLocked() int {
	if s.ext == nil {
		return 0
	}
	return len(s.ext.q)
}

// takeQueueLocked takes every queued message, leaving the spare buffer for new ones.
func (s *Session) takeQueueLocked() []envelope {
	x := s.ext
	if x == nil || len(x.q) == 0 {
		return nil
	}
	q := x.q
	x.q, x.spare = x.spare, nil
	return q
}

// giveBackLocked returns a processed batch's buffer for reuse (bursts' big buffers are freed).
func (s *Session) giveBackLocked(q []envelope) {
	if q == nil || s.ext == nil || s.ext.spare != nil {
		return
	}
	s.ext.spare = q[:0]
}

// idleLocked frees buffers grown past the mailbox bound (a burst of calls) when the session
// goes idle. Buffers within the bound are kept for the next burst, and freed by trim.
func (s *Session) idleLocked() {
	if x := s.ext; x != nil {
		limit := 2 * s.reg.cfg.MailboxSize
		if cap(x.spare) > limit {
			x.spare = nil
		}
		if len(x.q) == 0 && cap(x.q) > limit {
			x.q = nil
		}
	}
}

// trim frees an idle session's mailbox buffers and gives its spare waiter back to the pool. The
// expiry sweep calls it when it re-buckets a session that is still in use, so a session that
// goes quiet gives its buffers back within one TTL.
func (s *Session) trim() {
	s.mu.Lock()
	if x := s.ext; x != nil && !s.busy && len(x.q) == 0 {
		x.q, x.spare = nil, nil
		s.freeOwnWaiterLocked(x)
	}
	s.mu.Unlock()
}

// release gives up ownership after an inline call: hands queued work to a worker, or finishes
// the session if it was ended meanwhile.
func (s *Session) release() {
	s.mu.Lock()
	if s.dead {
		q := s.takeQueueLocked()
		s.mu.Unlock()
		s.finishDead(q)
		return
	}
	if s.queuedLocked() != 0 {
		s.reg.tasks.Add(1)
		s.mu.Unlock()
		s.reg.submit(s)
		return
	}
	s.busy = false
	s.mu.Unlock()
}

// runCall is a call goroutine's run of s: first, the call handed over with s (when first.w is
// set), unless s ended meanwhile, then the mailbox.
func (s *Session) runCall(first envelope, g *callGoroutine) {
	g.rest = nil
	if first.w != nil {
		s.mu.Lock()
		if s.dead {
			q := s.takeQueueLocked()
			reason := reasons[s.reason]
			s.mu.Unlock()
			s.failCallWith(first, reason)
			s.finishDeadWith(q, reason)
			return
		}
		s.mu.Unlock()
		s.processOn(first, g)
		s.mu.Lock()
		if !s.dead && s.queuedLocked() == 0 { // the one call was all: done (drainOn, shorter)
			s.busy = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	s.drainOn(g)
}

// drainBatch is how many messages a worker handles for one session before requeueing it, so
// one flooded session does not starve the others.
const drainBatch = 64

// drain runs queued messages as the session's owner, taking the whole mailbox under one lock
// and handling it without the lock, so senders and the owner rarely contend.
func (s *Session) drain() { s.drainOn(nil) }

// drainOn is drain on call goroutine g, or on a worker (g nil).
func (s *Session) drainOn(g *callGoroutine) {
	var batch []envelope
	for done := 0; ; {
		s.mu.Lock()
		s.giveBackLocked(batch)
		if s.dead {
			q := s.takeQueueLocked()
			s.mu.Unlock()
			s.finishDead(q)
			return
		}
		if s.queuedLocked() == 0 {
			s.busy = false
			s.idleLocked()
			s.mu.Unlock()
			return
		}
		if done >= drainBatch {
			s.reg.tasks.Add(1) // the requeued run; the caller ends this one
			s.mu.Unlock()
			s.reg.submit(s)
			return
		}
		batch = s.takeQueueLocked()
		s.mu.Unlock()
		if g != nil {
			// For its recover, if a handler panics: the messages not handled yet are those
			// not cleared below (failCalls skips the cleared ones).
			g.rest = batch
		}
		for i, e := range batch {
			batch[i] = envelope{}
			if !s.process(e, g) {
				s.failCalls(batch[i+1:])
				return
			}
		}
		done += len(batch)
	}
}

// process handles one queued message; false when the handler crashed. On a call goroutine (g
// set) it is processOn.
func (s *Session) process(e envelope, g *callGoroutine) bool {
	if g != nil {
		s.processOn(e, g)
		return true
	}
	if e.w == nil {
		if s.invokeCast(e.msg) {
			s.crash()
			return false
		}
		return true
	}
	w := e.w
	st := w.state.Load()
	if st&answeredBit != 0 || w.cancellable && !s.ctxReady(w, st) {
		return true // the caller gave up, it timed out, or its ctx is done
	}
	reply, err, crashed := s.invokeCall(w.ctx, e.msg)
	w.answer(st, callResult{reply, err})
	if crashed {
		s.crash()
		return false
	}
	return true
}

// processOn is process on call goroutine g: the handler runs without a recover of its own, a
// panic unwinds to the goroutine's (see runCalls), which ends the session as process would.
func (s *Session) processOn(e envelope, g *callGoroutine) {
	if e.w == nil {
		g.w, g.inHandler = nil, true
		if s.handler != nil {
			s.handler.HandleCast(e.msg)
		} else {
			s.defaultCast(e.msg)
		}
		g.inHandler = false
		return
	}
	w := e.w
	st := w.state.Load()
	if st&answeredBit != 0 || w.cancellable && !s.ctxReady(w, st) {
		return // as in process
	}
	g.w, g.st, g.inHandler = w, st, true
	var reply any
	var err error
	if s.handler != nil { // written out: a function for it would not be inlined
		reply, err = s.handler.HandleCall(w.ctx, e.msg)
	} else {
		reply, err = s.defaultCall(e.msg)
	}
	g.inHandler = false
	w.answer(st, callResult{reply, err})
}

// ctxReady reports whether the ctx of w's call, pending in state st, is not done; when it is,
// it answers the call with ctx's error.
func (s *Session) ctxReady(w *waiter, st uint64) bool {
	if err := w.ctx.Err(); err != nil {
		w.answer(st, callResult{err: fmt.Errorf("calling session %s: %w", s.id, err)})
		return false
	}
	return true
}

// panicked is the error of a call whose handler panicked with p.
func (s *Session) panicked(p any) error {
	return fmt.Errorf("session %s: handler panicked: %v: %w", s.id, p, ErrCrashed)
}

func (s *Session) invokeCall(ctx context.Context, msg any) (reply any, err error, crashed bool) {
	defer func() {
		if p := recover(); p != nil {
			reply, err, crashed = nil, s.panicked(p), true
		}
	}()
	if s.handler == nil { // written out, as in processOn
		reply, err = s.defaultCall(msg)
	} else {
		reply, err = s.handler.HandleCall(ctx, msg)
	}
	return reply, err, false
}

func (s *Session) invokeCast(msg any) (crashed bool) {
	defer func() {
		if recover() != nil {
			crashed = true
		}
	}()
	if s.handler == nil { // written out, as in processOn
		s.defaultCast(msg)
	} else {
		s.handler.HandleCast(msg)
	}
	return false
}

// crash ends the session after its handler panicked; the caller owns the session.
func (s *Session) crash() {
	if s.reg.remove(s) {
		_ = s.reg.end(context.Background(), s, ErrCrashed, true)
		return
	}
	// Already removed by a concurrent Terminate or expiry. If its end already ran it left the
	// cleanup to us (we were busy); if not, give up ownership so that end does it.
	s.mu.Lock()
	if !s.dead {
		s.busy = false
		s.mu.Unlock()
		return
	}
	q := s.takeQueueLocked()
	s.mu.Unlock()
	s.finishDead(q)
}

// failCalls answers the calls in q, taken by a crashed owner, with ErrCrashed.
func (s *Session) failCalls(q []envelope) { s.failCallsWith(q, ErrCrashed) }

func (s *Session) failCallsWith(q []envelope, reason error) {
	for _, e := range q {
		s.failCallWith(e, reason)
	}
}

// failCallWith answers e, when it is a call still pending, with ErrNotFound and reason.
func (s *Session) failCallWith(e envelope, reason error) {
	if e.w == nil {
		return
	}
	if st := e.w.state.Load(); st&1 == 0 {
		e.w.answer(st, callResult{err: fmt.Errorf("calling session %s: %w: %w", s.id, ErrNotFound, reason)})
	}
}

// finishDead fails queued calls and runs the handler's Terminate; run once, by the owner.
func (s *Session) finishDead(q []envelope) {
	s.mu.Lock()
	reason := reasons[s.reason]
	s.mu.Unlock()
	s.finishDeadWith(q, reason)
}

// finishDeadWith is finishDead for the one who marked s dead with reason (no lock to read it).
func (s *Session) finishDeadWith(q []envelope, reason error) {
	s.failCallsWith(q, reason)
	// Once s is dead no call takes its own waiter and nobody sets s.ext (Call and Cast check
	// first), so both are used here without the lock.
	if x := s.ext; x != nil {
		s.freeOwnWaiterLocked(x) // for the next session's first call
	}
	if s.handler != nil {
		func() {
			defer func() { _ = recover() }() // a panicking Terminate must not take the caller down
			s.handler.Terminate(reason)
		}()
	}
}
