package sessioncore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Errors returned by the registry. They are returned unwrapped on hot paths so a rejection
// does not allocate; match them with errors.Is.
var (
	// ErrNotFound: no live session has that ID.
	ErrNotFound = errors.New("session not found")
	// ErrAlreadyStarted: a live session already has that key.
	ErrAlreadyStarted = errors.New("session already started")
	// ErrLimitReached: the registry holds MaxSessions sessions.
	ErrLimitReached = errors.New("session limit reached")
	// ErrRateLimited: starts exceed CreateRate.
	ErrRateLimited = errors.New("session create rate exceeded")
	// ErrUnknownHandler: Spec.Handler names no registered handler.
	ErrUnknownHandler = errors.New("unknown handler")
	// ErrMailboxFull: a Cast or a Call found the session's mailbox full (MailboxSize).
	ErrMailboxFull = errors.New("mailbox full")
	// ErrClosed: the registry is closed.
	ErrClosed = errors.New("registry closed")
	// ErrCallTimeout: a Call without a context deadline had no reply within CallTimeout.
	ErrCallTimeout = errors.New("call timed out")
)

// Spec describes a session to start.
type Spec struct {
	// Key is the session's ID: 1–64 of [A-Za-z0-9_-]; empty means a generated ID (NewID).
	Key string
	// Handler names the handler factory (empty: DefaultHandler).
	Handler string
	// Arg is passed to the handler factory.
	Arg any
	// TTL is the idle TTL (0: Config.TTL; negative: never expires when idle).
	TTL time.Duration
	// Lifetime is the absolute lifetime (0: Config.Lifetime; negative: unlimited).
	Lifetime time.Duration
}

type handlerKind struct {
	name    string
	factory HandlerFactory // nil for the default handler
}

var defaultKind = &handlerKind{name: DefaultHandler}

// shard is one part of the registry: the index and the expiry wheel of its sessions. Writers
// hold mu; readers of the index take no lock but check seq (see Registry.Lookup).
type shard struct {
	mu    sync.Mutex
	seq   atomic.Uint64 // odd while the index is being changed
	idx   index
	wheel map[int64]*bucket // expiry tick → its bucket
	last  *bucket           // the bucket used last (nil: none)
	spare []*Session        // a swept bucket's buffer, for the next new bucket
	swept int64             // last tick swept
	// Keep shards on separate cache lines, and a multiple of 64 B long: the shards slice is
	// 64 B aligned (its size class is), so no shard's seq and index header straddle two lines.
	_ [72]byte
}

// Registry holds sessions by ID. It is safe for concurrent use. Close it to stop its
// goroutines and terminate its sessions.
type Registry struct {
	cfg     Config
	machine *Machine
	kinds   map[string]*handlerKind
	seed    uintptr // of hashKey
	shards  []shard
	mask    uint64
	res     int64 // expiry resolution in ns
	ttl     int64 // default TTL in ns
	life    int64 // default lifetime in ns

	now    *atomic.Int64 // coarse clock, Unix ns
	ownNow atomic.Int64

	live    atomic.Int64
	max     int64
	limiter gcra

	runq  chan *Session
	stop  chan struct{}
	wg    sync.WaitGroup // the registry's goroutines
	tasks taskCount      // scheduled session runs, counted under the session's lock
	// closed is set first by Close; calls, casts and starts after it return ErrClosed.
	closed atomic.Bool

	hot         atomic.Pointer[callGoroutine] // the call goroutine parked last (see goCall)
	idleMu      sync.Mutex
	idle        []*callGoroutine // other parked call goroutines, the last parked on top
	idleStopped bool

	mono        atomic.Int64 // the call clock: ClockResolution per tick received (see ticker)
	callTimeout int64        // CallTimeout + 2×ClockResolution, ns (see ticker)
	calls       []callList   // calls waiting with a CallTimeout deadline
	waiters     sync.Pool    // of *waiter, this registry's (see getWaiter)

	st counters
}

// New returns a started registry. It returns an error for an invalid Config.
func New(cfg Config) (*Registry, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Registry{
		cfg:     cfg,
		machine: cfg.Machine,
		kinds:   map[string]*handlerKind{DefaultHandler: defaultKind},
		seed:    newHashSeed(),
		shards:  make([]shard, cfg.Shards),
		mask:    uint64(cfg.Shards - 1),
		res:     int64(cfg.ExpiryResolution),
		ttl:     int64(cfg.TTL),
		life:    int64(cfg.Lifetime),
		max:     int64(cfg.MaxSessions),
		runq:    make(chan *Session, 4096),
		stop:    make(chan struct{}),

		callTimeout: int64(cfg.CallTimeout + 2*cfg.ClockResolution),
		calls:       make([]callList, cfg.Shards),
	}
	for name, f := range cfg.Handlers {
		if f == nil {
			return nil, fmt.Errorf("checking config: handler %q has a nil factory", name)
		}
		r.kinds[name] = &handlerKind{name: name, factory: f}
	}
	if cfg.CreateRate > 0 {
		r.limiter.interval = int64(float64(time.Second) / cfg.CreateRate)
		r.limiter.tolerance = r.limiter.interval * int64(cfg.CreateBurst)
	}
	manual, isManual := cfg.Clock.(*ManualClock)
	if isManual {
		r.now = &manual.ns
	} else {
		r.now = &r.ownNow
		r.ownNow.Store(cfg.Clock.Now().UnixNano())
	}
	tick := r.now.Load() / r.res
	for i := range r.shards {
		r.shards[i].wheel = make(map[int64]*bucket)
		r.shards[i].swept = tick
	}
	r.wg.Add(cfg.Workers + 1)
	for range cfg.Workers {
		go r.worker()
	}
	go r.ticker(!isManual)
	return r, nil
}

// ticker times out calls and, with a clock of its own (own: not a ManualClock), refreshes the
// coarse clock and sweeps expired sessions. Note: one ticker per registry instead of a runtime
// timer per session or per call: timers cost ~64 B and a heap operation per touch, and a reset
// and a stop per call.
func (r *Registry) ticker(own bool) {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.ClockResolution)
	defer t.Stop()
	nextSweep := r.now.Load() + r.res
	var buf []timedOut
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			// The call clock counts the ticks received, ClockResolution each, not the time
			// since the registry started. A call reads it up to a tick stale and gets the
			// deadline clock + CallTimeout + 2×ClockResolution: it is then answered ≥
			// CallTimeout/ClockResolution + 1 ticks after it began, and a time.Ticker that
			// was held up delivers one kept tick at once and the rest a resolution apart, so
			// never before CallTimeout has passed, and normally by CallTimeout +
			// 2×ClockResolution. Note: with the real time since the start, a ticker held up
			// for longer than CallTimeout (GOMAXPROCS=1 and two goroutines handing calls back
			// and forth kept it off the CPU for 90 ms) came back to calls whose deadlines
			// were taken from the clock it had left, and timed out calls begun microseconds
			// before; now such a stall makes timeouts late by the stall instead.
			mono := r.mono.Load() + int64(r.cfg.ClockResolution)
			r.mono.Store(mono)
			buf = r.expireCalls(mono, buf)
			if !own {
				continue
			}
			now := r.cfg.Clock.Now().UnixNano()
			r.ownNow.Store(now)
			if now >= nextSweep {
				r.sweep(now)
				nextSweep = now + r.res
			}
		}
	}
}

func (r *Registry) worker() {
	defer r.wg.Done()
	for {
		select {
		case s := <-r.runq:
			s.drain()
			r.tasks.Done()
		case <-r.stop:
			for {
				select {
				case s := <-r.runq:
					s.drain()
					r.tasks.Done()
				default:
					return
				}
			}
		}
	}
}

// submit hands a session whose caller set busy to a worker. The caller has counted the task
// in r.tasks under the session's lock: Close ends every session (taking its lock) before it
// waits for the tasks, so the count is up before that wait, and the wg.Add below happens
// before the task is done, so before Close waits for the goroutines.
func (r *Registry) submit(s *Session) {
	select {
	case r.runq <- s:
	default:
		// Note: the run queue is full (thousands of sessions have work); a goroutine per
		// busy session past that point keeps Cast non-blocking and exits when drained.
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			s.drain()
			r.tasks.Done()
		}()
	}
}

// lockWrite takes the shard's lock to change its index: lock-free readers that overlap the
// change see seq move and retry.
func (sh *shard) lockWrite() {
	sh.mu.Lock()
	sh.seq.Add(1)
}

func (sh *shard) unlockWrite() {
	sh.seq.Add(1)
	sh.mu.Unlock()
}

// shardOf returns the shard of id and the hash of id: the top bits choose the shard, the low
// bits the slot in the shard's index.
func (r *Registry) shardOf(id string) (*shard, uint64) {
	h := hashKey(r.seed, id)
	return r.shardAt(h), h
}

// shardAt returns the shard of hash h.
//
// Note: unchecked indexing, because r.mask is len(r.shards)-1 (a power of two, set in New and
// never changed), so the index is always in range. &r.shards[i] costs a bounds check, and its
// address the compiler cannot fold into the shard's atomic loads in Lookup: 11 of a lookup's
// 187 instructions among 1,000 sessions (callgrind), about 5 % of its time (0–7 % over the
// four lookup figures of one interleaved A/B run), for a check that cannot fail.
func (r *Registry) shardAt(h uint64) *shard {
	return (*shard)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(r.shards)), uintptr((h>>56)&r.mask)*unsafe.Sizeof(shard{})))
}

// Machine returns the registry's state machine.
func (r *Registry) Machine() *Machine { return r.machine }

// Now returns the registry's coarse clock (refreshed every ClockResolution).
func (r *Registry) Now() time.Time { return time.Unix(0, r.now.Load()) }

// Start starts a session described by spec and returns it. It returns ErrClosed,
// an error wrapping ErrInvalidKey, ErrUnknownHandler, ErrRateLimited, ErrLimitReached,
// ErrAlreadyStarted, the handler factory's error (wrapped) or the Persister's Save error
// (wrapped; the session is then removed and its slot freed).
func (r *Registry) Start(ctx context.Context, spec Spec) (*Session, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	var t0 time.Time
	if r.cfg.Hooks.OnStart != nil {
		t0 = time.Now()
	}
	id := spec.Key
	if id == "" {
		id = NewID()
	} else if !validKey(id) {
		r.st.rejectedKey.Add(1)
		return nil, ValidateKey(id)
	}
	kind := defaultKind
	if spec.Handler != "" && spec.Handler != DefaultHandler {
		if kind = r.kinds[spec.Handler]; kind == nil {
			r.st.rejectedKey.Add(1)
			return nil, ErrUnknownHandler
		}
	}
	now := r.now.Load()
	if !r.limiter.allow(now) {
		r.st.rejectedRate.Add(1)
		return nil, ErrRateLimited
	}
	if !r.reserve() {
		r.st.rejectedLimit.Add(1)
		return nil, ErrLimitReached
	}
	var h Handler
	if kind.factory != nil {
		if r.Started(id) { // do not run the factory for a key that is taken
			r.live.Add(-1)
			r.st.rejectedDup.Add(1)
			return nil, ErrAlreadyStarted
		}
		var err error
		if h, err = kind.factory(id, spec.Arg); err != nil {
			r.live.Add(-1)
			return nil, fmt.Errorf("starting session %s: %w", id, err)
		}
	}
	// Note: the session is allocated before taking the shard lock, not after the duplicate
	// check under it: an allocation may assist the GC for microseconds, and a lock held through
	// that stalls every start and lookup on the shard. A rejected duplicate pays the allocation.
	s := &Session{id: id, reg: r, kind: kind, handler: h, created: now}
	s.lastActive.Store(now)
	if spec.TTL > 0 {
		s.ttl = int64(spec.TTL)
	} else if spec.TTL == 0 {
		s.ttl = r.ttl
	}
	if life := int64(spec.Lifetime); life > 0 {
		s.hard = now + life
	} else if life == 0 && r.life > 0 {
		s.hard = now + r.life
	}
	sh, hash := r.shardOf(id)
	sh.lockWrite()
	if !sh.idx.insert(hash, s) {
		sh.unlockWrite()
		r.live.Add(-1)
		r.st.rejectedDup.Add(1)
		return nil, ErrAlreadyStarted
	}
	if d := s.deadline(); d != 0 {
		sh.wheelInsert(s, r.tickOf(d))
	}
	sh.unlockWrite()
	r.st.created.Add(1)
	if p := r.cfg.Persister; p != nil {
		if err := p.Save(ctx, s.record()); err != nil {
			if r.remove(s) {
				r.end(ctx, s, ErrStartAborted, false)
			}
			return nil, fmt.Errorf("starting session %s: saving: %w", id, err)
		}
	}
	if h := r.cfg.Hooks.OnStart; h != nil {
		h(id, time.Since(t0))
	}
	return s, nil
}

// reserve takes a slot under MaxSessions. Note: a CAS loop rather than Add-then-undo, so a
// start racing for the last slot never makes another start fail spuriously.
func (r *Registry) reserve() bool {
	if r.max == 0 {
		r.live.Add(1)
		return true
	}
	for {
		n := r.live.Load()
		if n >= r.max {
			return false
		}
		if r.live.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Lookup returns the live session with ID id, or nil and false. It takes no lock unless
// the session's shard is being changed at that moment.
func (r *Registry) Lookup(id string) (*Session, bool) {
	// No key is empty or longer than MaxKeyLen. Past this check the stored hash's low byte is
	// the whole length (1–64), so hl is never 0 (an empty slot's) and a matching hl means the
	// slot's key has len(id) bytes: the fast path's omitted nil check and keyString's length
	// rely on both.
	if uint(len(id))-1 >= MaxKeyLen {
		return nil, false
	}
	h := hashKey(r.seed, id)
	sh := r.shardAt(h)
	hl := hashLen(h, id)
	// Optimistic read: the index as of an even sequence, kept if the sequence did not move.
	// Note: an RWMutex read lock was used before; its reader count is one cache line that
	// every lookup writes, so two cores looking up in the same shard took turns owning it
	// (0.44× xsync.Map's lookups/s at 2 goroutines). Reading the sequence only shares the line.
	//
	// The fast path is a key in its home slot or the next one, with no branch on which: with linear probing, the probe's length is what a branch predictor cannot
	// learn (callgrind's simulation: 0.24 mispredicted branches per lookup with the loop, a
	// third of the keys not being at home). Everything else goes to lookupSlow.
	seq := sh.seq.Load()
	first := sh.idx.one.Load() // the only table of a small index (see index.one)
	mask := sh.idx.oneMask.Load()
	if sh.idx.one.Load() != first || first == nil {
		// A bigger index: its table by the directory (a table's slots and mask never change).
		first = nil
		if d := sh.idx.dir.Load(); d != nil {
			t := d.tableOf(hl)
			first, mask = unsafe.SliceData(t.slots), t.mask
		}
	}
	if seq&1 == 0 && first != nil {
		i := (hl >> 8) & mask
		var next uint64 // 1 when the home slot holds another stored hash (a conditional move)
		if atomic.LoadUint64(&slotAt(first, i).hl) != hl {
			next = 1
		}
		sl := slotAt(first, (i+next)&mask)
		shl := atomic.LoadUint64(&sl.hl)
		s := sl.loadS()
		key := atomic.LoadPointer(&sl.key)
		// No check of s against nil: at an even sequence that did not move, a slot holding a
		// stored hash also holds its session (publish stores both while the sequence is odd, and
		// no stored hash is 0, the empty slot's).
		if shl == hl && s != tombstone && sh.seq.Load() == seq && keyString(key, len(id)) == id {
			return s, true
		}
	}
	return sh.lookupSlow(h, hl, id)
}

// lookupSlow is Lookup's general path: any index, any probe length, retried while writers
// change the index, under the shard's lock after three tries or when two keys share a stored
// hash.
//
//go:noinline
func (sh *shard) lookupSlow(h, hl uint64, id string) (*Session, bool) {
	for range 3 {
		seq := sh.seq.Load()
		if seq&1 != 0 {
			continue
		}
		var mask uint64
		first := sh.idx.one.Load()
		if first != nil {
			mask = sh.idx.oneMask.Load()
			if sh.idx.one.Load() != first {
				continue
			}
		} else {
			t := sh.idx.tableOf(hl)
			if t == nil {
				if sh.seq.Load() != seq {
					continue
				}
				return nil, false
			}
			first, mask = &t.slots[0], t.mask
		}
		// The probe: the first live slot with the key's stored hash, or an empty one (or,
		// with a mask read during a change, mask+1 slots).
		var s *Session
		var key unsafe.Pointer
		for i, n := (hl>>8)&mask, uint64(0); n <= mask; i, n = (i+1)&mask, n+1 {
			sl := slotAt(first, i)
			if s = sl.loadS(); s == nil {
				break
			}
			if s != tombstone && atomic.LoadUint64(&sl.hl) == hl {
				key = atomic.LoadPointer(&sl.key)
				break
			}
			s = nil
		}
		if sh.seq.Load() != seq {
			continue
		}
		if s == nil {
			return nil, false
		}
		if keyString(key, len(id)) == id {
			return s, true
		}
		break // another key with the same stored hash: probe on under the lock
	}
	return sh.lookupLocked(h, id)
}

// lookupLocked is Lookup under the shard's lock.
func (sh *shard) lookupLocked(h uint64, id string) (*Session, bool) {
	sh.mu.Lock()
	s := sh.idx.get(h, id)
	sh.mu.Unlock()
	return s, s != nil
}

// Started reports whether a live session has ID id.
func (r *Registry) Started(id string) bool {
	_, ok := r.Lookup(id)
	return ok
}

// Count returns the number of live sessions (including starts in progress).
func (r *Registry) Count() int { return int(r.live.Load()) }

// List returns the IDs of the live sessions, in no particular order (empty: none). It reads
// the shards one after another, not at one instant: while sessions start and end, it may
// hold one that ended after its shard was read and one that started before its own shard
// was, so it can be longer than Count ever was (MaxSessions caps Count).
func (r *Registry) List() []string { return r.list("") }

// ListByHandler returns the IDs of the live sessions running handler name, in no particular
// order (empty: none).
func (r *Registry) ListByHandler(name string) []string {
	if name == "" {
		name = DefaultHandler
	}
	return r.list(name)
}

func (r *Registry) list(handler string) []string {
	ids := make([]string, 0, r.Count())
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		sh.idx.each(func(s *Session) {
			if handler == "" || s.kind.name == handler {
				ids = append(ids, s.id)
			}
		})
		sh.mu.Unlock()
	}
	return ids
}

// Call looks up session id and calls it (see Session.Call). It returns ErrNotFound for a
// missing session.
func (r *Registry) Call(ctx context.Context, id string, msg any) (any, error) {
	s, ok := r.Lookup(id)
	if !ok {
		r.st.errors.Add(1)
		return nil, ErrNotFound
	}
	return s.Call(ctx, msg)
}

// Cast looks up session id and casts to it (see Session.Cast). It returns ErrNotFound for a
// missing session.
func (r *Registry) Cast(id string, msg any) error {
	s, ok := r.Lookup(id)
	if !ok {
		r.st.errors.Add(1)
		return ErrNotFound
	}
	return s.Cast(msg)
}

// Terminate ends session id with reason ErrTerminated. It returns ErrNotFound for a missing
// session, or the Persister's Delete error (wrapped; the session is ended anyway). The
// handler's Terminate runs before Terminate returns unless a message is being handled, in
// which case it runs right after that message.
func (r *Registry) Terminate(ctx context.Context, id string) error {
	sh, h := r.shardOf(id)
	sh.lockWrite()
	s := sh.idx.get(h, id)
	if s != nil {
		sh.idx.remove(s)
		sh.wheelRemove(s)
	}
	sh.unlockWrite()
	if s == nil {
		return ErrNotFound
	}
	return r.end(ctx, s, ErrTerminated, false)
}

// remove takes s out of its shard; false when it was no longer there.
func (r *Registry) remove(s *Session) bool {
	sh, _ := r.shardOf(s.id)
	sh.lockWrite()
	defer sh.unlockWrite()
	if !sh.idx.has(s) {
		return false
	}
	sh.idx.remove(s)
	sh.wheelRemove(s)
	return true
}

// end finishes a session already removed from its shard: marks it dead, frees its slot, runs
// the handler's Terminate (now if nobody is running it, else by its current runner; owned
// means the caller is that runner), fails queued calls, deletes it from the Persister.
func (r *Registry) end(ctx context.Context, s *Session, reason error, owned bool) error {
	e, ok := s.markDead(reason, owned)
	if !ok {
		return nil
	}
	r.live.Add(-1)
	switch reason {
	case ErrExpired:
		r.st.expired.Add(1)
	case ErrCrashed:
		r.st.crashed.Add(1)
	default:
		r.st.terminated.Add(1)
	}
	return r.finish(ctx, e, reason)
}

// ending is a session marked dead whose end is not finished yet (see Session.markDead).
type ending struct {
	s   *Session
	q   []envelope // its queue, taken when run
	run bool       // the one who marked it runs its Terminate: nobody else owned it
}

// markDead marks s dead with reason under its lock; false when it already was. The caller
// counts it and calls finish.
func (s *Session) markDead(reason error, owned bool) (ending, bool) {
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return ending{}, false
	}
	s.dead = true
	s.reason = reasonCode(reason)
	e := ending{s: s, run: owned || !s.busy}
	s.busy = true
	if e.run {
		e.q = s.takeQueueLocked()
	}
	s.mu.Unlock()
	return e, true
}

// finish is the rest of end once the session is marked dead and counted: Terminate (if the
// marker runs it), queued calls failed, the Persister's Delete, the OnStop hook.
func (r *Registry) finish(ctx context.Context, e ending, reason error) error {
	s := e.s
	if e.run {
		s.finishDeadWith(e.q, reason)
	}
	var err error
	if p := r.cfg.Persister; p != nil && reason != ErrShutdown {
		if d := p.Delete(ctx, s.id); d != nil {
			err = fmt.Errorf("deleting session %s: %w", s.id, d)
		}
	}
	if h := r.cfg.Hooks.OnStop; h != nil {
		h(s.id, reason)
	}
	return err
}

// Close terminates every session (reason ErrShutdown, not deleted from the Persister so they
// can be restored), stops the registry's goroutines and waits for running handlers to finish.
// Calls after Close return ErrClosed. Close is idempotent and returns nil.
func (r *Registry) Close() error {
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.lockWrite()
		all := make([]*Session, 0, sh.idx.n)
		sh.idx.each(func(s *Session) { all = append(all, s) })
		sh.idx.reset()
		clear(sh.wheel)
		sh.last, sh.spare = nil, nil
		sh.unlockWrite()
		for _, s := range all {
			s.wb = nil
			_ = r.end(context.Background(), s, ErrShutdown, false)
		}
	}
	r.tasks.Wait() // runs already scheduled, on workers that still run
	r.stopCallers()
	close(r.stop)
	r.wg.Wait()
	return nil
}

// gcra is an atomic token bucket (generic cell rate algorithm). Note: golang.org/x/time/rate
// takes a mutex and reads time.Now on every call; this is one CAS on the coarse clock.
type gcra struct {
	tat       atomic.Int64 // theoretical arrival time, ns
	interval  int64        // ns per start; 0 = unlimited
	tolerance int64        // burst × interval
}

func (g *gcra) allow(now int64) bool {
	if g.interval == 0 {
		return true
	}
	for {
		old := g.tat.Load()
		tat := max(old, now)
		next := tat + g.interval
		if next-now > g.tolerance {
			return false
		}
		if g.tat.CompareAndSwap(old, next) {
			return true
		}
	}
}
