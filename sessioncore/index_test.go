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
		seen, n, slots := 0, 0, 0
		var last *table
		for _, tb := range indexTables(&x) {
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
			if used != tb.used || used > maxUsed(len(tb.slots)) {
				t.Fatalf("step %d: %d used (table says %d) in %d slots", step, used, tb.used, len(tb.slots))
			}
			slots += len(tb.slots)
		}
		var one *slot
		var mask uint64
		if d := x.dir.Load(); d != nil && d.depth == 0 {
			tb := d.tabs[0].Load()
			one, mask = &tb.slots[0], tb.mask
		}
		if got := x.one.Load(); got != one || x.oneMask.Load() != mask {
			t.Fatalf("step %d: one is %p (mask %d), want %p (mask %d): the directory's only table, or nil", step, got, x.oneMask.Load(), one, mask)
		}
		if n != x.n || slots != x.slots {
			t.Fatalf("step %d: tables hold %d in %d slots, index says %d in %d", step, n, slots, x.n, x.slots)
		}
		x.each(func(s *Session) {
			seen++
			if ref[s.id] != s || !x.has(s) {
				t.Fatalf("step %d: %s is not what the map holds", step, s.id)
			}
			tb := x.dir.Load().tableOf(hashLen(hash(s.id), s.id))
			if i := (uintptr(unsafe.Pointer(s.sl)) - uintptr(unsafe.Pointer(&tb.slots[0]))) / unsafe.Sizeof(slot{}); i >= uintptr(len(tb.slots)) || &tb.slots[i] != s.sl {
				t.Fatalf("step %d: %s points at a slot outside the table its hash leads to", step, s.id)
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
	if d := x.dir.Load().depth; d < 2 {
		t.Errorf("directory depth %d: the tables never split", d)
	}
	for _, s := range ref {
		x.remove(s)
	}
	if x.n != 0 {
		t.Errorf("after removing everything: n %d, want 0", x.n)
	}
	if n, d := indexSlots(&x), x.dir.Load().depth; n > tableMinSlots || d != 0 {
		t.Errorf("after removing everything: %d slots, directory depth %d; want one table of %d", n, d, tableMinSlots)
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
	if d := x.dir.Load().depth; d > 1 {
		t.Errorf("for directory depth, got %d, want the table grown instead", d)
	}
	for _, s := range ss {
		if x.get(42<<8, s.id) != s {
			t.Fatalf("get %s failed", s.id)
		}
	}
}

// indexTables returns the directory's entries.
func indexTables(x *index) []*table {
	d := x.dir.Load()
	if d == nil {
		return nil
	}
	out := make([]*table, len(d.tabs))
	for i := range d.tabs {
		out[i] = d.tabs[i].Load()
	}
	return out
}

// indexSlots returns the number of slots of the index's tables.
func indexSlots(x *index) int {
	n := 0
	var last *table
	for _, t := range indexTables(x) {
		if t != last {
			n += len(t.slots)
			last = t
		}
	}
	return n
}

// maxUsed is the most slots a table of l slots may use (live and tombstones): a full-size table
// splits at 3/4, a smaller one grows at 1/2.
func maxUsed(l int) int {
	if l < tableMaxSlots {
		return l / 2
	}
	return 3 * l / 4
}

// TestIndexLoad: a lookup's probe gets longer with its table's load, so a table smaller than
// tableMaxSlots is never more than half full, and one table keeps up to 3/4 of tableMaxSlots
// sessions (readers of a one-table index take the short path, index.one) before it splits.
func TestIndexLoad(t *testing.T) {
	seed := maphash.MakeSeed()
	var x index
	for i := range 3 * tableMaxSlots / 2 {
		s := &Session{id: fmt.Sprintf("load%d", i)}
		x.insert(maphash.String(seed, s.id), s)
		n := i + 1
		for _, tb := range indexTables(&x) {
			if tb.used > maxUsed(len(tb.slots)) {
				t.Fatalf("with %d sessions: a table of %d slots has %d used", n, len(tb.slots), tb.used)
			}
		}
		if d := x.dir.Load().depth; n <= 3*tableMaxSlots/4 && d != 0 {
			t.Fatalf("with %d sessions: directory depth %d, want one table", n, d)
		}
	}
	if d := x.dir.Load().depth; d == 0 {
		t.Errorf("with %d sessions: one table, want it split", 3*tableMaxSlots/2)
	}
}

// TestIndexShrinks: an index that held 200,000 sessions and kept 1,000 gives its room back —
// tables fold, merge and shrink — and still finds every session.
func TestIndexShrinks(t *testing.T) {
	seed := maphash.MakeSeed()
	var x index
	ss := make([]*Session, 200_000)
	for i := range ss {
		ss[i] = &Session{id: fmt.Sprintf("s%d", i)}
		if !x.insert(maphash.String(seed, ss[i].id), ss[i]) {
			t.Fatalf("insert %d refused", i)
		}
	}
	peak, peakDepth := indexSlots(&x), x.dir.Load().depth
	for _, s := range ss[1000:] {
		x.remove(s)
	}
	for _, s := range ss[:1000] {
		if x.get(maphash.String(seed, s.id), s.id) != s {
			t.Fatalf("after shrinking, %s is not found", s.id)
		}
	}
	d := x.dir.Load()
	bytes := indexSlots(&x)*int(unsafe.Sizeof(slot{})) + len(d.tabs)*8
	t.Logf("peak %d slots, depth %d; after: %d slots, depth %d: %d B per session left", peak, peakDepth, indexSlots(&x), d.depth, bytes/1000)
	// At 3/8 load a session needs 64 B of slots; allow 4× for tables that could not merge.
	if bytes > 4*64*1000 {
		t.Errorf("for the index's bytes after going from 200,000 to 1,000 sessions, got %d (peak %d slots), want at most %d", bytes, peak, 4*64*1000)
	}
}
