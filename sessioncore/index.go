package sessioncore

// index is a shard's table of live sessions by ID: open addressing with linear probing over
// 16 B slots (the key's 64-bit hash and the session). Every session knows its slot, so removing
// one is a single store (a tombstone) with no probe and no load: the expiry sweep removes
// sessions that have been idle for a TTL, whose slots are cold, and a removal that needs no
// load costs the same whatever the number of live sessions.
//
// Note: it replaces a map[string]*Session. Deleting from a Go map probes for the key: two or
// three dependent cache misses into a table that grows with the live sessions, which made a
// sweep cost ~450 ns per expired session with 100,000 live and ~200 ns with none. The map also
// hashed every key a second time (the shard is chosen with the same hash).
//
// The table grows at 3/4 load (counting tombstones); a full rehash moves every session and
// renumbers its slot, so growth is amortised O(1) per insert but one insert in a doubling pays
// for the whole shard under its lock (about 1 ms per 100,000 sessions of that shard).
type index struct {
	slots []slot
	mask  uint64
	n     int // live sessions
	tombs int // tombstones
}

type slot struct {
	h uint64
	s *Session // nil: empty; tombstone: removed
}

// tombstone marks a removed slot: probes continue past it, inserts may reuse it.
var tombstone = &Session{}

const (
	indexMinSlots  = 8
	indexShrinkMin = 1024 // tables this small are never shrunk
)

// get returns the session with ID id (hash h), or nil.
func (x *index) get(h uint64, id string) *Session {
	if x.slots == nil {
		return nil
	}
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		sl := &x.slots[i]
		if sl.s == nil {
			return nil
		}
		if sl.h == h && sl.s != tombstone && sl.s.id == id {
			return sl.s
		}
	}
}

// insert adds s (hash h) unless a session with its ID is present; false when it is.
func (x *index) insert(h uint64, s *Session) bool {
	if x.slots == nil {
		x.resize()
	}
	reuse := -1
	i := h & x.mask
	for ; ; i = (i + 1) & x.mask {
		sl := &x.slots[i]
		if sl.s == nil {
			break
		}
		if sl.s == tombstone {
			if reuse < 0 {
				reuse = int(i)
			}
		} else if sl.h == h && sl.s.id == s.id {
			return false
		}
	}
	if reuse >= 0 {
		x.tombs--
		x.put(uint64(reuse), h, s)
		return true
	}
	if 4*(x.n+x.tombs+1) > 3*len(x.slots) {
		x.resize()
		for i = h & x.mask; x.slots[i].s != nil; i = (i + 1) & x.mask { // the table changed
		}
	}
	x.put(i, h, s)
	return true
}

// resize rehashes the live sessions into a table where they fill at most 3/8 of the slots,
// dropping tombstones: it grows a full table and shrinks one left mostly empty by removals.
func (x *index) resize() {
	size := indexMinSlots
	for 8*x.n > 3*size {
		size <<= 1
	}
	old := x.slots
	x.slots = make([]slot, size)
	x.mask = uint64(size - 1)
	x.n, x.tombs = 0, 0
	for _, sl := range old {
		if sl.s != nil && sl.s != tombstone {
			i := sl.h & x.mask
			for x.slots[i].s != nil {
				i = (i + 1) & x.mask
			}
			x.put(i, sl.h, sl.s)
		}
	}
}

func (x *index) put(i, h uint64, s *Session) {
	x.slots[i] = slot{h: h, s: s}
	s.slot = int32(i)
	x.n++
}

// has reports whether s is in the table.
func (x *index) has(s *Session) bool {
	return s.slot >= 0 && int(s.slot) < len(x.slots) && x.slots[s.slot].s == s
}

// remove takes s out of the table: one store, no probe. s must be in it. A large table left
// less than 1/16 full is rebuilt smaller (amortised: the live sessions fell by 6× or more
// since it was built).
func (x *index) remove(s *Session) {
	x.slots[s.slot] = slot{s: tombstone}
	s.slot = -1
	x.n--
	x.tombs++
	if len(x.slots) > indexShrinkMin && 16*x.n < len(x.slots) {
		x.resize()
	}
}

// each calls f for every session in the table.
func (x *index) each(f func(*Session)) {
	for _, sl := range x.slots {
		if sl.s != nil && sl.s != tombstone {
			f(sl.s)
		}
	}
}

// reset empties the table and frees it.
func (x *index) reset() { *x = index{} }
