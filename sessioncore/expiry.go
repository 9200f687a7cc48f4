package sessioncore

import (
	"context"
	"sync/atomic"
)

// The expiry wheel: each shard keeps its expiring sessions in buckets of ExpiryResolution,
// keyed by tick (Unix ns / resolution). A bucket is a slice of sessions; each session knows its
// bucket and its index in it, so inserting is an append and removing (Terminate) is one store
// of nil. A sweep visits only the buckets that are due. Touch does not move a session: when its
// bucket comes due the sweep re-reads its last activity and re-buckets it if it was touched. A
// sweep therefore costs per due session, never per live session.
//
// Note: a slice rather than an intrusive doubly linked list (the first version). Walking a list
// is a chain of dependent loads: every session a sweep visits has been idle for a TTL, so is
// cold in the cache, and each s.next must arrive from memory before the next load can start.
// Reading the sessions of a slice are independent loads the CPU overlaps. Removing from a list
// also wrote to both neighbours (two more cold sessions per Terminate).
//
// Note: a per-session runtime timer (time.AfterFunc) was rejected: ~64 B more per session and a
// timer-heap operation on every touch. A periodic full scan was rejected: ~1 ms per 100k live
// sessions on every pass even when nothing expires (ANCHORS.md).

// tickOf returns the bucket for a deadline d: the first tick strictly after it.
func (r *Registry) tickOf(d int64) int64 { return d/r.res + 1 }

// bucket holds the sessions whose deadline falls in one tick. Slots of sessions that left
// before the bucket came due are nil (gone counts them); the slice is compacted when more than
// half of it is nil, so a bucket never holds more than twice its live sessions.
type bucket struct {
	tick int64
	ss   []*Session
	gone int
}

// compactMin is the smallest bucket that is compacted (smaller ones wait for their sweep).
const compactMin = 64

// bucketAt returns the bucket of tick, creating it; the last one used is cached because
// sessions started together share a tick.
func (sh *shard) bucketAt(tick int64) *bucket {
	if b := sh.last; b != nil && b.tick == tick {
		return b
	}
	b := sh.wheel[tick]
	if b == nil {
		b = &bucket{tick: tick}
		sh.wheel[tick] = b
	}
	sh.last = b
	return b
}

// takeBucket unhooks the bucket of tick from the wheel; nil when there is none.
func (sh *shard) takeBucket(tick int64) *bucket {
	b := sh.wheel[tick]
	if b == nil {
		return nil
	}
	delete(sh.wheel, tick)
	if sh.last == b {
		sh.last = nil
	}
	return b
}

func (sh *shard) wheelInsert(s *Session, tick int64) {
	if tick <= sh.swept {
		tick = sh.swept + 1 // a deadline already past: the next sweep takes it
	}
	b := sh.bucketAt(tick)
	if b.ss == nil && sh.spare != nil {
		b.ss, sh.spare = sh.spare, nil
	}
	s.wb, s.widx = b, int32(len(b.ss))
	b.ss = append(b.ss, s)
}

func (sh *shard) wheelRemove(s *Session) {
	b := s.wb
	if b == nil {
		return
	}
	b.ss[s.widx] = nil
	s.wb = nil
	b.gone++
	switch {
	case b.gone == len(b.ss): // empty: keep the bucket (no map write here), drop big buffers
		if cap(b.ss) > 4*compactMin {
			b.ss = nil
		} else {
			b.ss = b.ss[:0]
		}
		b.gone = 0
	case b.gone >= compactMin && 2*b.gone > len(b.ss):
		b.compact()
	}
}

// compact removes the nil slots, renumbering the sessions that move. Amortised O(1) per
// removal: it runs after at least len/2 removals and moves at most len/2 sessions.
func (b *bucket) compact() {
	j := 0
	for _, s := range b.ss {
		if s != nil {
			if s.widx != int32(j) {
				s.widx = int32(j)
				b.ss[j] = s
			}
			j++
		}
	}
	clear(b.ss[j:])
	b.ss = b.ss[:j]
	b.gone = 0
}

// CleanupExpired sweeps now (by the registry's Clock, read afresh) and returns the number of
// sessions that expired. Sessions expire up to Config.ExpiryResolution after their deadline.
func (r *Registry) CleanupExpired() int {
	now := r.now.Load()
	if r.now == &r.ownNow {
		now = r.cfg.Clock.Now().UnixNano()
		r.ownNow.Store(now)
	}
	return r.sweep(now)
}

// sweep expires the sessions whose buckets are due at now and returns how many expired.
func (r *Registry) sweep(now int64) int {
	nowTick := now / r.res
	n := 0
	var due []*Session
	for i := range r.shards {
		sh := &r.shards[i]
		due = due[:0]
		sh.mu.Lock()
		if nowTick <= sh.swept {
			sh.mu.Unlock()
			continue
		}
		if nowTick-sh.swept > int64(len(sh.wheel)) {
			for t := range sh.wheel {
				if t <= nowTick {
					due = r.sweepBucket(sh, sh.takeBucket(t), now, due)
				}
			}
		} else {
			for t := sh.swept + 1; t <= nowTick; t++ {
				if b := sh.takeBucket(t); b != nil {
					due = r.sweepBucket(sh, b, now, due)
				}
			}
		}
		sh.swept = nowTick
		sh.mu.Unlock()
		n += r.expire(due)
		clear(due)
	}
	return n
}

// expire ends the due sessions, already out of their shard, with reason ErrExpired: end for
// each, except that the registry's counters (shared cache lines, written with locked adds) are
// moved once for all of them, before the sessions are marked. It returns the number ended.
func (r *Registry) expire(due []*Session) int {
	n := int64(len(due))
	r.live.Add(-n)
	r.st.expired.Add(n)
	for _, s := range due {
		e, ok := s.markDead(ErrExpired, false)
		if !ok { // ended meanwhile by someone who counted it: not expected, but undo ours
			r.live.Add(1)
			r.st.expired.Add(-1)
			n--
			continue
		}
		if h := r.cfg.Hooks.OnExpire; h != nil {
			h(s.id)
		}
		_ = r.finish(context.Background(), e, ErrExpired)
	}
	return int(n)
}

// sweepBucket sweeps a bucket already unhooked from the wheel: sessions past their deadline
// leave the shard's index and are appended to due; touched ones are re-bucketed. Reading the
// deadlines are independent loads; removing from the index is a store per session.
func (r *Registry) sweepBucket(sh *shard, b *bucket, now int64, due []*Session) []*Session {
	first := len(due)
	for _, s := range b.ss {
		if s == nil {
			continue
		}
		s.wb = nil
		if d := s.deadline(); d <= now {
			due = append(due, s)
		} else {
			sh.wheelInsert(s, r.tickOf(d))
			s.trim()
		}
	}
	if len(due) > first {
		// Bring the due sessions' slots into the cache first: independent loads the CPU
		// overlaps. The removals' atomic stores are locked instructions, which wait for their
		// cache line one at a time.
		for _, s := range due[first:] {
			if s.sl.loadS() != s {
				panic("sessioncore: a due session is not in its index slot")
			}
		}
		sh.seq.Add(1) // only the index changes are seen by readers
		for _, s := range due[first:] {
			sh.idx.remove(s)
		}
		sh.seq.Add(1)
	}
	clear(b.ss)
	if sh.spare == nil && cap(b.ss) <= 4*compactMin {
		sh.spare = b.ss[:0]
	}
	return due
}

// Stats is a snapshot of a registry's counters. Counts are since New.
type Stats struct {
	// Live is the number of live sessions.
	Live int
	// Created, Terminated, Expired and Crashed count sessions started and ended by each cause
	// (Terminated includes shutdown and aborted starts).
	Created, Terminated, Expired, Crashed int64
	// RejectedLimit, RejectedRate, RejectedKey and RejectedDuplicate count refused starts:
	// MaxSessions, CreateRate, invalid key or unknown handler, key already live.
	RejectedLimit, RejectedRate, RejectedKey, RejectedDuplicate int64
	// Calls and Casts count messages sent; MailboxFull the casts refused for a full mailbox.
	Calls, Casts, MailboxFull int64
	// Errors counts failed calls and casts (not found, timeouts, handler errors, full mailbox).
	Errors int64
	// BytesPerSession estimates the heap an idle session costs, in bytes: its struct, its key
	// and its share of the index and the expiry wheel (BenchmarkIdleMemory measures it).
	BytesPerSession int
}

// Stats returns the registry's counters.
func (r *Registry) Stats() Stats {
	return Stats{
		Live: r.Count(), Created: r.st.created.Load(), Terminated: r.st.terminated.Load(),
		Expired: r.st.expired.Load(), Crashed: r.st.crashed.Load(),
		RejectedLimit: r.st.rejectedLimit.Load(), RejectedRate: r.st.rejectedRate.Load(),
		RejectedKey: r.st.rejectedKey.Load(), RejectedDuplicate: r.st.rejectedDup.Load(),
		Calls: r.st.calls.Load(), Casts: r.st.casts.Load(), MailboxFull: r.st.mailboxFull.Load(),
		Errors: r.st.errors.Load(), BytesPerSession: sessionBytesEstimate,
	}
}

// sessionBytesEstimate: the struct (128 B), a 24 B key allocation, ~48 B
// of index (24 B slots at 3/8–3/4 load) and ~12 B of expiry bucket (8 B slots plus growth
// slack). See BenchmarkIdleMemory.
const sessionBytesEstimate = 128 + 24 + 48 + 12

type counters struct {
	created, terminated, expired, crashed                 atomic.Int64
	rejectedLimit, rejectedRate, rejectedKey, rejectedDup atomic.Int64
	calls, casts, mailboxFull, errors                     atomic.Int64
}
