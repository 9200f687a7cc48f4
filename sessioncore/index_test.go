package sessioncore

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// TestIndexAgainstMap runs random inserts, removals and lookups on an index and on a map and
// checks they agree, through growth, tombstones and rebuilds that shrink the table.
func TestIndexAgainstMap(t *testing.T) {
	seed := maphash.MakeSeed()
	rng := rand.New(rand.NewPCG(1, 2))
	var x index
	ref := map[string]*Session{}
	keys := make([]string, 20000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	hash := func(k string) uint64 {
		if strings.HasSuffix(k, "77") { // collide on purpose: same hash, different keys
			return 7 << 8
		}
		return maphash.String(seed, k)
	}
	check := func(step int) {
		t.Helper()
		if x.n != len(ref) {
			t.Fatalf("step %d: n %d, want %d", step, x.n, len(ref))
		}
		seen, n := 0, 0
		var last *table
		for _, tb := range x.dir {
			if tb == last {
				continue
			}
			last = tb
			live, used := 0, 0
			for _, sl := range tb.slots {
				if sl.s != nil {
					used++
					if sl.s != tombstone {
						live++
					}
				}
			}
			n += live
			if used != tb.used || 4*used > 3*len(tb.slots) {
				t.Fatalf("step %d: %d used (table says %d) in %d slots", step, used, tb.used, len(tb.slots))
			}
		}
		if n != x.n {
			t.Fatalf("step %d: tables hold %d, index says %d", step, n, x.n)
		}
		x.each(func(s *Session) {
			seen++
			if ref[s.id] != s || s.sl.s != s || !x.has(s) {
				t.Fatalf("step %d: %s is not what the map holds", step, s.id)
			}
			tb := x.tableOf(s.sl.hl)
			if i := (uintptr(unsafe.Pointer(s.sl)) - uintptr(unsafe.Pointer(&tb.slots[0]))) / unsafe.Sizeof(slot{}); i >= uintptr(len(tb.slots)) || &tb.slots[i] != s.sl {
				t.Fatalf("step %d: %s points at a slot outside its table", step, s.id)
			}
		})
		if seen != len(ref) {
			t.Fatalf("step %d: each saw %d, want %d", step, seen, len(ref))
		}
	}
	for step := range 200_000 {
		// Phases: grow to ~15000 (tables split), shrink (tables mostly tombstones), grow again.
		bias := 6
		if (step/50_000)%2 == 1 {
			bias = 2
		}
		k := keys[rng.IntN(len(keys))]
		switch op := rng.IntN(10); {
		case op < bias:
			s := &Session{id: k}
			_, had := ref[k]
			if ok := x.insert(hash(k), s); ok == had {
				t.Fatalf("step %d: insert %s returned %v with the key present %v", step, k, ok, had)
			}
			if !had {
				ref[k] = s
			}
		case op < 8:
			if s := ref[k]; s != nil {
				if !x.has(s) {
					t.Fatalf("step %d: has(%s) false", step, k)
				}
				x.remove(s)
				if x.has(s) {
					t.Fatalf("step %d: has(%s) true after remove", step, k)
				}
				delete(ref, k)
			}
		default:
			if got, want := x.get(hash(k), k), ref[k]; got != want {
				t.Fatalf("step %d: get %s = %p, want %p", step, k, got, want)
			}
		}
		if step%997 == 0 {
			check(step)
		}
	}
	check(-1)
	if x.depth < 2 {
		t.Errorf("directory depth %d: the tables never split", x.depth)
	}
	for _, s := range ref {
		x.remove(s)
	}
	if x.n != 0 {
		t.Errorf("after removing everything: n %d, want 0", x.n)
	}
	x.reset()
	if x.get(hash("k1"), "k1") != nil || x.n != 0 {
		t.Error("after reset, the index is not empty")
	}
}

// TestIndexSameHash: keys whose hashes are all equal cannot be split apart; their table grows
// past tableMaxSlots instead of doubling the directory forever.
func TestIndexSameHash(t *testing.T) {
	var x index
	var ss []*Session
	for i := range 3 * tableMaxSlots {
		s := &Session{id: fmt.Sprintf("same-%d", i)}
		if !x.insert(42<<8, s) {
			t.Fatalf("insert %d refused", i)
		}
		ss = append(ss, s)
	}
	if x.depth > 1 {
		t.Errorf("for directory depth, got %d, want the table grown instead", x.depth)
	}
	for _, s := range ss {
		if x.get(42<<8, s.id) != s {
			t.Fatalf("get %s failed", s.id)
		}
	}
}
