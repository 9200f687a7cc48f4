package sessioncore

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// TestIndexAgainstMap runs random inserts, removals and lookups on an index and on a map and
// checks they agree, through growth, tombstones and rebuilds that shrink the table.
func TestIndexAgainstMap(t *testing.T) {
	seed := maphash.MakeSeed()
	rng := rand.New(rand.NewPCG(1, 2))
	var x index
	ref := map[string]*Session{}
	keys := make([]string, 5000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	hash := func(k string) uint64 {
		if k[len(k)-1] == '7' { // collide on purpose: same hash, different keys
			return 7
		}
		return maphash.String(seed, k)
	}
	check := func(step int) {
		t.Helper()
		if x.n != len(ref) {
			t.Fatalf("step %d: n %d, want %d", step, x.n, len(ref))
		}
		if 4*(x.n+x.tombs) > 3*len(x.slots) {
			t.Fatalf("step %d: %d live + %d tombstones in %d slots", step, x.n, x.tombs, len(x.slots))
		}
		seen := 0
		x.each(func(s *Session) {
			seen++
			if ref[s.id] != s || x.slots[s.slot].s != s {
				t.Fatalf("step %d: %s at slot %d is not what the map holds", step, s.id, s.slot)
			}
		})
		if seen != len(ref) {
			t.Fatalf("step %d: each saw %d, want %d", step, seen, len(ref))
		}
	}
	for step := range 200_000 {
		// Phases: grow to ~4000, shrink to ~100 (tables mostly tombstones), grow again.
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
	for _, s := range ref {
		x.remove(s)
	}
	if x.n != 0 || len(x.slots) > indexShrinkMin {
		t.Errorf("after removing everything: n %d, %d slots, want 0 and a small table", x.n, len(x.slots))
	}
}
