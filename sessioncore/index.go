package sessioncore

import "unsafe"

// index is a shard's table of live sessions by ID. Every session points at its slot, so
// removing one is a single store (a tombstone) with no probe and no load: the expiry sweep removes
// sessions that have been idle for a TTL, whose slots are cold, and a removal that needs no
// load costs the same whatever the number of live sessions.
//
// It is extendible hashing: a directory, indexed by the hash bits below the shard's, of tables
// of at most tableMaxSlots 24 B slots with linear probing. A slot holds the key's hash (its low
// byte replaced by the key's length), a pointer to the key's bytes and the session, so a lookup
// reads the slot and the key's bytes but not the session. A table that reaches 3/4 load
// (tombstones included) is rebuilt — bigger, or the same size without its tombstones — and a
// full one splits in two, so growing never moves more than one table's sessions at a time.
//
// Note: it replaces a map[string]*Session. Deleting from a Go map probes for the key: two or
// three dependent cache misses into a table that grows with the live sessions, which made a
// sweep cost ~450 ns per expired session with 100,000 live and ~200 ns with none. The map also
// hashed every key a second time (the shard is chosen with the same hash). A first version
// here was one open-addressing table per shard: growing it rebuilt the whole shard under its
// lock (~8 ms per 100,000 sessions on the 2-core machine), hence the directory.
type index struct {
	dir   []*table // 1<<depth entries; nil until the first insert
	depth uint     // global depth
	n     int      // live sessions
}

// table is one part of an index: open addressing with linear probing. Removing a session does
// not touch its table's header (the slot becomes a tombstone, used does not change), so the
// live count is only known by a scan, which every rebuild does anyway.
type table struct {
	slots []slot
	mask  uint64
	used  int  // slots not empty: live sessions and tombstones
	depth uint // local depth: the directory bits all its keys share
}

type slot struct {
	hl  uint64         // the key's hash with its low byte replaced by the key's length
	key unsafe.Pointer // the key's bytes
	s   *Session       // nil: empty; tombstone: removed
}

// tombstone marks a removed slot: probes continue past it, inserts may reuse it.
var tombstone = &Session{}

const (
	tableMinSlots = 8
	tableMaxSlots = 1024 // a full table of this size splits instead of growing
)

// hashLen is what a slot stores of key id with hash h: the hash above its low byte and the
// key's length (at most 64). The shard is chosen by the hash's top 8 bits, the directory entry
// by the bits below those, the slot in a table by hl>>8.
func hashLen(h uint64, id string) uint64 { return h&^0xff | uint64(len(id)) }

func (x *index) tableOf(hl uint64) *table { return x.dir[(hl<<8)>>(64-x.depth)] }

func (t *table) home(hl uint64) uint64 { return (hl >> 8) & t.mask }

// get returns the session with ID id (hash h), or nil.
func (x *index) get(h uint64, id string) *Session {
	if x.dir == nil {
		return nil
	}
	hl := hashLen(h, id)
	t := x.tableOf(hl)
	for i := t.home(hl); ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
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
	if x.dir == nil {
		x.dir = []*table{newTable(tableMinSlots, 0)}
	}
	id := s.id
	hl := hashLen(h, id)
	t := x.tableOf(hl)
	reuse := -1
	i := t.home(hl)
	for ; ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
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
		t.put(uint64(reuse), hl, s)
		x.n++
		return true
	}
	if 4*(t.used+1) > 3*len(t.slots) {
		x.grow(t)
		t = x.tableOf(hl)
		for i = t.home(hl); t.slots[i].s != nil; i = (i + 1) & t.mask {
		}
	}
	t.put(i, hl, s)
	t.used++
	x.n++
	return true
}

func newTable(size int, depth uint) *table {
	return &table{slots: make([]slot, size), mask: uint64(size - 1), depth: depth}
}

func (t *table) put(i, hl uint64, s *Session) {
	sl := &t.slots[i]
	*sl = slot{hl: hl, key: unsafe.Pointer(unsafe.StringData(s.id)), s: s}
	s.sl = sl
}

// add puts s (stored hash hl) in the first free slot from its home; t has room.
func (t *table) add(hl uint64, s *Session) {
	i := t.home(hl)
	for t.slots[i].s != nil {
		i = (i + 1) & t.mask
	}
	t.put(i, hl, s)
	t.used++
}

// live returns the number of sessions in t (a scan).
func (t *table) live() int {
	n := 0
	for i := range t.slots {
		if s := t.slots[i].s; s != nil && s != tombstone {
			n++
		}
	}
	return n
}

// grow makes room in t, which reached 3/4 load: it rebuilds t at the size where its sessions
// fill at most 3/8 of it (bigger, or the same or smaller without tombstones) up to
// tableMaxSlots, and splits it in two past that.
func (x *index) grow(t *table) {
	n := t.live()
	size := tableMinSlots
	for 8*(n+1) > 3*size {
		size <<= 1
	}
	if size > tableMaxSlots && x.split(t, n) {
		return
	}
	nt := newTable(size, t.depth)
	for _, sl := range t.slots {
		if sl.s != nil && sl.s != tombstone {
			nt.add(sl.hl, sl.s)
		}
	}
	x.replace(t, nt, nt)
}

// split moves t's sessions into two tables by the next directory bit; false (and nothing
// done) when they would all go to one side (keys whose hashes agree on that many bits: the
// table then grows past tableMaxSlots instead).
func (x *index) split(t *table, n int) bool {
	bit := 63 - 8 - t.depth // the next directory bit, counted from the low end
	n1 := 0
	for _, sl := range t.slots {
		if sl.s != nil && sl.s != tombstone {
			n1 += int(sl.hl >> bit & 1)
		}
	}
	if n1 == 0 || n1 == n || t.depth >= 48 {
		return false
	}
	if t.depth == x.depth { // double the directory
		dir := make([]*table, 2*len(x.dir))
		for i, p := range x.dir {
			dir[2*i], dir[2*i+1] = p, p
		}
		x.dir = dir
		x.depth++
	}
	t0, t1 := newTable(tableMaxSlots, t.depth+1), newTable(tableMaxSlots, t.depth+1)
	for _, sl := range t.slots {
		if sl.s != nil && sl.s != tombstone {
			if sl.hl>>bit&1 == 0 {
				t0.add(sl.hl, sl.s)
			} else {
				t1.add(sl.hl, sl.s)
			}
		}
	}
	x.replace(t, t0, t1)
	return true
}

// replace points the directory entries of t at t0 (first half) and t1 (second half); t0 and
// t1 are the same table for a rebuild.
func (x *index) replace(t, t0, t1 *table) {
	// The entries of t are a run of 1<<(x.depth-t.depth) starting at a multiple of it.
	run := 1 << (x.depth - t.depth)
	for start := 0; start < len(x.dir); start += run {
		if x.dir[start] != t {
			continue
		}
		for i := range run {
			if i < run/2 || t0 == t1 {
				x.dir[start+i] = t0
			} else {
				x.dir[start+i] = t1
			}
		}
		return
	}
	panic("sessioncore: index table not in its directory")
}

// has reports whether s is in the index.
func (x *index) has(s *Session) bool { return s.sl != nil && s.sl.s == s }

// remove takes s out of the index: one store into its slot, no probe, nothing else of the
// table read or written. s must be in it. The slot is freed when its table is next rebuilt.
func (x *index) remove(s *Session) {
	*s.sl = slot{s: tombstone}
	s.sl = nil
	x.n--
}

// each calls f for every session in the index.
func (x *index) each(f func(*Session)) {
	var last *table
	for _, t := range x.dir {
		if t == last {
			continue // a table's directory entries are adjacent
		}
		last = t
		for _, sl := range t.slots {
			if sl.s != nil && sl.s != tombstone {
				f(sl.s)
			}
		}
	}
}

// reset empties the index and frees it.
func (x *index) reset() {
	x.each(func(s *Session) { s.sl = nil })
	*x = index{}
}
