package sessioncore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// TestLookupDuringChanges: lock-free lookups running while other goroutines start, terminate
// and expire sessions in the same shards (so that tables grow, split, shrink and merge under
// them) always find the sessions that stay live, and never return a session under another
// key. Run with -race: the read path must be free of data races.
func TestLookupDuringChanges(t *testing.T) {
	clk := NewManualClock(time.Unix(1_000_000, 0))
	r := newTestRegistry(t, Config{Clock: clk, Shards: 8})
	ctx := t.Context()
	stable := benchKeys("stable-", 300)
	for _, k := range stable {
		if _, err := r.Start(ctx, Spec{Key: k, TTL: -1}); err != nil {
			t.Fatal(err)
		}
	}
	churn := benchKeys("churn-", 3000)
	expiring := benchKeys("exp-", 3000)

	var failed atomic.Value
	fail := func(format string, args ...any) { failed.CompareAndSwap(nil, fmt.Sprintf(format, args...)) }
	stopReaders := lookupReaders(r, 3, stable, [][]string{churn, expiring}, fail)
	var writers sync.WaitGroup
	writers.Go(func() { // starts and terminates: tables grow, split, shrink and merge
		for range 4 {
			for _, k := range churn {
				if _, err := r.Start(ctx, Spec{Key: k, TTL: -1}); err != nil {
					fail("start %s: %v", k, err)
					return
				}
			}
			for _, k := range churn {
				if err := r.Terminate(ctx, k); err != nil {
					fail("terminate %s: %v", k, err)
					return
				}
			}
		}
	})
	writers.Go(func() { // starts and expiry sweeps
		for range 4 {
			for _, k := range expiring {
				if _, err := r.Start(ctx, Spec{Key: k, TTL: time.Second}); err != nil {
					fail("start %s: %v", k, err)
					return
				}
			}
			clk.Advance(3 * time.Second)
			if n := r.CleanupExpired(); n != len(expiring) {
				fail("expired %d, want %d", n, len(expiring))
				return
			}
		}
	})
	writers.Wait()
	stopReaders()
	if msg := failed.Load(); msg != nil {
		t.Fatal(msg)
	}
	if got := r.Count(); got != len(stable) {
		t.Errorf("for Count after the churn, got %d, want %d", got, len(stable))
	}
}

// TestShardSize: a shard is a multiple of 64 B (see shard), so what a reader loads of it —
// seq, one and oneMask — is on one cache line.
func TestShardSize(t *testing.T) {
	if got := unsafe.Sizeof(shard{}); got%64 != 0 {
		t.Errorf("for the size of shard, got %d B, want a multiple of 64", got)
	}
	if off := unsafe.Offsetof(shard{}.idx) + unsafe.Offsetof(index{}.oneMask); off+8 > 64 {
		t.Errorf("for the offset of shard.idx.oneMask, got %d, want it within the first 64 B (with seq and one)", off)
	}
}

// TestLookupWhileTheOnlyTableChanges: lock-free lookups in a one-shard registry while a writer
// grows its only table from 8 slots to a split (the reader's shortcut, index.one, goes away),
// then empties it again (the shortcut comes back, with smaller and smaller tables). Every
// change of the table replaces one and oneMask; a reader that paired a mask with a table it
// is too big for would probe past the table's end, which -race's pointer checks catch, and
// a wrong result would show here.
func TestLookupWhileTheOnlyTableChanges(t *testing.T) {
	r := newTestRegistry(t, Config{Shards: 1})
	ctx := t.Context()
	stable := benchKeys("stable-", 4)
	for _, k := range stable {
		if _, err := r.Start(ctx, Spec{Key: k, TTL: -1}); err != nil {
			t.Fatal(err)
		}
	}
	churn := benchKeys("churn-", 2000) // past 3/4 of the largest table: it splits
	var failed atomic.Value
	fail := func(format string, args ...any) { failed.CompareAndSwap(nil, fmt.Sprintf(format, args...)) }
	stopReaders := lookupReaders(r, 2, stable, [][]string{churn}, fail)
	sawSplit := false
	for range 6 {
		for _, k := range churn {
			if _, err := r.Start(ctx, Spec{Key: k, TTL: -1}); err != nil {
				t.Fatal(err)
			}
		}
		sawSplit = sawSplit || r.shards[0].idx.one.Load() == nil
		for _, k := range churn {
			if err := r.Terminate(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	stopReaders()
	if msg := failed.Load(); msg != nil {
		t.Fatal(msg)
	}
	if !sawSplit {
		t.Error("the only table never split: the test did not take the reader off its shortcut")
	}
	if r.shards[0].idx.one.Load() == nil {
		t.Error("after the churn the index has more than one table: the shortcut did not come back")
	}
}

// lookupReaders starts n goroutines that look up, round and round, the keys of stable (which
// must be found) and of each of others (which may be missing, but must never return another
// key's session), and reports the first failure to fail. The returned func stops them and
// waits.
func lookupReaders(r *Registry, n int, stable []string, others [][]string, fail func(string, ...any)) func() {
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for g := range n {
		readers.Go(func() {
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := stable[i%len(stable)]
				if s, ok := r.Lookup(k); !ok || s.ID() != k {
					fail("lookup of live %s: got %v %v", k, s, ok)
					return
				}
				for _, ks := range others {
					k := ks[i%len(ks)]
					if s, ok := r.Lookup(k); ok && s.ID() != k {
						fail("lookup of %s returned session %s", k, s.ID())
						return
					}
				}
			}
		})
	}
	return func() { close(stop); readers.Wait() }
}

// TestLookupOfInvalidKeys: no ID outside 1..MaxKeyLen bytes is ever found, even one that starts
// with a live key or has that key's length modulo 256 (the stored hash keeps a length byte).
func TestLookupOfInvalidKeys(t *testing.T) {
	r := newTestRegistry(t, Config{Shards: 8})
	keys := benchKeys("k-", 500)
	for _, k := range keys {
		if _, err := r.Start(t.Context(), Spec{Key: k, TTL: -1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		long := k + string(make([]byte, 256)) // len(k)+256: the same low length byte
		for _, id := range []string{"", long, (k + string(make([]byte, MaxKeyLen)))[:MaxKeyLen+1]} {
			if s, ok := r.Lookup(id); ok || s != nil {
				t.Fatalf("Lookup of a %d-byte ID found %v", len(id), s)
			}
		}
		if _, ok := r.Lookup(k); !ok {
			t.Fatalf("Lookup(%q) missed a live key", k)
		}
	}
}
