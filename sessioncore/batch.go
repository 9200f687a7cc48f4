package sessioncore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// StartResult is the outcome of one start in StartMany.
type StartResult struct {
	// Session is the started session (nil on error).
	Session *Session
	// Err is Start's error.
	Err error
}

// StartMany starts the sessions of specs with at most parallelism starts at a time
// (parallelism < 1 means 1) and returns one result per spec, in the order of specs.
func (r *Registry) StartMany(ctx context.Context, specs []Spec, parallelism int) []StartResult {
	out := make([]StartResult, len(specs))
	forEach(len(specs), parallelism, func(i int) {
		s, err := r.Start(ctx, specs[i])
		out[i] = StartResult{s, err}
	})
	return out
}

// TerminateMany terminates the sessions ids with at most parallelism at a time and returns
// one error (nil on success) per id, in the order of ids.
func (r *Registry) TerminateMany(ctx context.Context, ids []string, parallelism int) []error {
	out := make([]error, len(ids))
	forEach(len(ids), parallelism, func(i int) {
		out[i] = r.Terminate(ctx, ids[i])
	})
	return out
}

// CastAll casts msg to every live session and returns how many accepted it (full mailboxes
// and sessions ending meanwhile are skipped).
func (r *Registry) CastAll(msg any) int {
	var t0 time.Time
	if r.cfg.Hooks.OnBroadcast != nil {
		t0 = time.Now()
	}
	n := 0
	var batch []*Session
	for i := range r.shards {
		sh := &r.shards[i]
		batch = batch[:0]
		sh.mu.Lock()
		sh.idx.each(func(s *Session) { batch = append(batch, s) })
		sh.mu.Unlock()
		for _, s := range batch {
			if s.Cast(msg) == nil {
				n++
			}
		}
	}
	if h := r.cfg.Hooks.OnBroadcast; h != nil {
		h(n, time.Since(t0))
	}
	return n
}

// forEach runs f(0..n-1) on up to parallelism goroutines.
func forEach(n, parallelism int, f func(i int)) {
	if parallelism < 1 {
		parallelism = 1
	}
	if parallelism == 1 || n <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(parallelism, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}
