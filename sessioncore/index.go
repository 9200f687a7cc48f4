package sessioncore

import "unsafe"

// index is a shard's table of live sessions by ID: open addressing with linear probing over
// 24 B slots (the key's hash and length, a pointer to its bytes, the session), so a lookup
// reads the slot and the key's bytes but not the session. Every session knows its slot, so removing
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
	hl  uint64         // the key's hash with its low byte replaced by the key's length
	key unsafe.Pointer // the key's bytes
	s   *Session       // nil: empty; tombstone: removed
}

// hashLen is what a slot stores of key id with hash h: the hash's bits above the low byte (the
// slot is chosen by hl>>8; the shard by the top bits) and the key's length (at most 64).
func hashLen(h uint64, id string) uint64 { return h&^0xff | uint64(len(id)) }

func (x *index) home(hl uint64) uint64 { return (hl >> 8) & x.mask }

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
	hl := hashLen(h, id)
	for i := x.home(hl); ; i = (i + 1) & x.mask {
		sl := &x.slots[i]
		if sl.s == nil {
			return nil
		}
		if sl.hl == hl && sl.s != tombstone && unsafe.String((*byte)(sl.key), len(id)) == id {
			return sl.s
		}
	}
}

// insert adds s (hash h) unless a session with its ID is present; false when it is.
func (x *index) insert(h uint64, s *Session) bool {
	if x.slots == nil {
		x.resize()
	}
	id := s.id
	hl := hashLen(h, id)
	reuse := -1
	i := x.home(hl)
	for ; ; i = (i + 1) & x.mask {
		sl := &x.slots[i]
		if sl.s == nil {
			break
		}
		if sl.s == tombstone {
			if reuse < 0 {
				reuse = int(i)
			}
		} else if sl.hl == hl && unsafe.String((*byte)(sl.key), len(id)) == id {
			return false
		}
	}
	if reuse >= 0 {
		x.tombs--
		x.put(uint64(reuse), hl, s)
		return true
	}
	if 4*(x.n+x.tombs+1) > 3*len(x.slots) {
		x.resize()
		for i = x.home(hl); x.slots[i].s != nil; i = (i + 1) & x.mask { // the table changed
		}
	}
	x.put(i, hl, s)
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
			i := x.home(sl.hl)
			for x.slots[i].s != nil {
				i = (i + 1) & x.mask
			}
			x.put(i, sl.hl, sl.s)
		}
	}
}

func (x *index) put(i, hl uint64, s *Session) {
	x.slots[i] = slot{hl: hl, key: unsafe.Pointer(unsafe.StringData(s.id)), s: s}
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
