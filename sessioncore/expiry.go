package sessioncore

import (
	"context"
	"sync/atomic"
)

// The expiry wheel: each shard keeps its expiring sessions in buckets of ExpiryResolution,
// keyed by tick (Unix ns / resolution), as intrusive doubly linked lists, so inserting and
// removing are O(1) and a sweep visits only the buckets that are due. Touch does not move a
// session: when its bucket comes due the sweep re-reads its last activity and re-buckets it if
// it was touched. A sweep therefore costs per due session, never per live session.
//
// Note: a per-session runtime timer (time.AfterFunc) was rejected: ~64 B more per session and a
// timer-heap operation on every touch. A periodic full scan was rejected: ~1 ms per 100k live
// sessions on every pass even when nothing expires (ANCHORS.md).

// tickOf returns the bucket for a deadline d: the first tick strictly after it.
func (r *Registry) tickOf(d int64) int64 { return d/r.res + 1 }

// bucket is the list of sessions whose deadline falls in one tick.
type bucket struct{ head *Session }

// bucketAt returns the bucket of tick, creating it; the last one used is cached because
// sessions started together share a tick.
func (sh *shard) bucketAt(tick int64) *bucket {
	if sh.last != nil && sh.lastTick == tick {
		return sh.last
	}
	b := sh.wheel[tick]
	if b == nil {
		b = &bucket{}
		sh.wheel[tick] = b
	}
	sh.last, sh.lastTick = b, tick
	return b
}

// dropBucket removes the bucket of tick from the wheel.
func (sh *shard) dropBucket(tick int64) {
	delete(sh.wheel, tick)
	if sh.lastTick == tick {
		sh.last = nil
	}
}

func (sh *shard) wheelInsert(s *Session, tick int64) {
	if tick <= sh.swept {
		tick = sh.swept + 1 // a deadline already past: the next sweep takes it
	}
	b := sh.bucketAt(tick)
	s.bucket = tick
	s.prev, s.next = nil, b.head
	if b.head != nil {
		b.head.prev = s
	}
	b.head = s
}

func (sh *shard) wheelRemove(s *Session) {
	if s.bucket == 0 {
		return
	}
	if s.prev != nil {
		s.prev.next = s.next
	} else if s.next != nil {
		sh.bucketAt(s.bucket).head = s.next
	} else {
		sh.dropBucket(s.bucket)
	}
	if s.next != nil {
		s.next.prev = s.prev
	}
	s.prev, s.next, s.bucket = nil, nil, 0
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
			for t, b := range sh.wheel {
				if t <= nowTick {
					sh.dropBucket(t)
					due = r.sweepBucket(sh, b.head, now, nowTick, due)
				}
			}
		} else {
			for t := sh.swept + 1; t <= nowTick; t++ {
				if b, ok := sh.wheel[t]; ok {
					sh.dropBucket(t)
					due = r.sweepBucket(sh, b.head, now, nowTick, due)
				}
			}
		}
		sh.swept = nowTick
		sh.mu.Unlock()
		for _, s := range due {
			if h := r.cfg.Hooks.OnExpire; h != nil {
				h(s.id)
			}
			_ = r.end(context.Background(), s, ErrExpired, false)
		}
		n += len(due)
	}
	return n
}

// sweepBucket walks a bucket's list (already unhooked from the wheel): sessions past their
// deadline leave the shard's map and are appended to due; touched ones are re-bucketed.
func (r *Registry) sweepBucket(sh *shard, s *Session, now, nowTick int64, due []*Session) []*Session {
	for s != nil {
		next := s.next
		s.prev, s.next, s.bucket = nil, nil, 0
		d := s.deadline()
		if d <= now {
			delete(sh.m, s.id)
			due = append(due, s)
		} else {
			sh.wheelInsert(s, r.tickOf(d))
			s.trim()
		}
		s = next
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
	// and its share of a registry map slot (BenchmarkIdleMemory measures the real figure).
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

// sessionBytesEstimate: 128 B struct, a 24 B key allocation and ~40 B of swiss-map slot
// (16 B key + 8 B value at 7/8 load, plus growth slack). See BenchmarkIdleMemory.
const sessionBytesEstimate = 128 + 24 + 40

type counters struct {
	created, terminated, expired, crashed                 atomic.Int64
	rejectedLimit, rejectedRate, rejectedKey, rejectedDup atomic.Int64
	calls, casts, mailboxFull, errors                     atomic.Int64
}
