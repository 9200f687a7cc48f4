package sessioncore

import (
	"sync/atomic"
	"unsafe"
)

// index is a shard's table of live sessions by ID. Every session knows its slot, so removing
// one is a store of a tombstone with no probe: the expiry sweep removes sessions that have
// been idle for a TTL, whose slots are cold, and a removal that needs no probe costs the same
// whatever the number of live sessions.
//
// It is extendible hashing: a directory, indexed by the hash bits below the shard's, of tables
// of at most tableMaxSlots 24 B slots with linear probing. A slot holds the key's hash (its low
// byte replaced by the key's length), a pointer to the key's bytes and the session, so a lookup
// reads the slot and the key's bytes but not the session. A table that reaches 3/4 load
// (tombstones included) is rebuilt — bigger, or the same size without its tombstones — and a
// full one splits in two, so growing never moves more than one table's sessions at a time. A
// table whose live sessions fall to 1/32 of its slots is rebuilt smaller; an empty one folds
// into its buddy (the table that differs in its last directory bit), and the directory halves
// when no table needs its last bit: an index that held a million sessions gives its memory
// back when they leave.
//
// Readers take no lock (see Registry.Lookup): writers hold the shard's mutex and bump its
// sequence counter around every change, store into published slots and directory entries
// atomically, and build new tables completely before publishing them with an atomic store; a
// reader loads atomically and keeps what it read only if the sequence did not move.
//
// Note: it replaces a map[string]*Session. Deleting from a Go map probes for the key: two or
// three dependent cache misses into a table that grows with the live sessions, which made a
// sweep cost ~450 ns per expired session with 100,000 live and ~200 ns with none. The map also
// hashed every key a second time (the shard is chosen with the same hash). A first version
// here was one open-addressing table per shard: growing it rebuilt the whole shard under its
// lock (~8 ms per 100,000 sessions on the 2-core machine), hence the directory.
type index struct {
	dir atomic.Pointer[directory] // nil until the first insert
	n   int                       // live sessions
}

// directory maps the hash bits below the shard's to tables; it is replaced, never resized, when
// its depth changes, and its entries are stored atomically.
type directory struct {
	depth uint                    // global depth
	tabs  []atomic.Pointer[table] // 1<<depth entries
}

// table is one part of an index: open addressing with linear probing. Its slots slice and mask
// never change once published; used, live and depth are the writers' bookkeeping.
type table struct {
	slots []slot
	mask  uint64
	used  int  // slots not empty: live sessions and tombstones
	live  int  // live sessions
	depth uint // local depth: the directory bits all its keys share
}

// slot is read atomically by lock-free readers; in a published table it is written atomically.
type slot struct {
	hl  uint64         // the key's hash with its low byte replaced by the key's length
	key unsafe.Pointer // the key's bytes (nil in a tombstone)
	s   *Session       // nil: empty; tombstone: removed
}

func (sl *slot) loadS() *Session {
	return (*Session)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(&sl.s))))
}

func (sl *slot) storeS(s *Session) {
	atomic.StorePointer((*unsafe.Pointer)(unsafe.Pointer(&sl.s)), unsafe.Pointer(s))
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

// entry returns the directory entry of stored hash hl.
func (d *directory) entry(hl uint64) int { return int((hl << 8) >> (64 - d.depth)) }

func (d *directory) tableOf(hl uint64) *table { return d.tabs[d.entry(hl)].Load() }

func (t *table) home(hl uint64) uint64 { return (hl >> 8) & t.mask }

// get returns the session with ID id (hash h), or nil. The shard's lock must be held.
func (x *index) get(h uint64, id string) *Session {
	d := x.dir.Load()
	if d == nil {
		return nil
	}
	hl := hashLen(h, id)
	t := d.tableOf(hl)
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

// peek is get for a reader without the lock: it returns the first live session whose slot's
// stored hash matches id's, with that slot's key pointer, or nil at an empty slot. What it
// returns is only consistent if the shard's sequence did not change meanwhile; the caller
// checks that, then compares the key. The probe ends even while writers insert: a published
// table always keeps a quarter of its slots empty, and an empty slot is never re-created.
func (x *index) peek(h uint64, id string) (*Session, unsafe.Pointer) {
	d := x.dir.Load()
	if d == nil {
		return nil, nil
	}
	hl := hashLen(h, id)
	t := d.tableOf(hl)
	for i := t.home(hl); ; i = (i + 1) & t.mask {
		sl := &t.slots[i]
		s := sl.loadS()
		if s == nil {
			return nil, nil
		}
		if s != tombstone && atomic.LoadUint64(&sl.hl) == hl {
			return s, atomic.LoadPointer(&sl.key)
		}
	}
}

// insert adds s (hash h) unless a session with its ID is present; false when it is.
func (x *index) insert(h uint64, s *Session) bool {
	d := x.dir.Load()
	if d == nil {
		d = &directory{tabs: make([]atomic.Pointer[table], 1)}
		d.tabs[0].Store(newTable(tableMinSlots, 0))
		x.dir.Store(d)
	}
	id := s.id
	hl := hashLen(h, id)
	t := d.tableOf(hl)
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
		t.publish(uint64(reuse), hl, s)
		t.live++
		x.n++
		return true
	}
	if 4*(t.used+1) > 3*len(t.slots) {
		x.grow(t)
		t = x.dir.Load().tableOf(hl)
		for i = t.home(hl); t.slots[i].s != nil; i = (i + 1) & t.mask {
		}
	}
	t.publish(i, hl, s)
	t.used++
	t.live++
	x.n++
	return true
}

func newTable(size int, depth uint) *table {
	return &table{slots: make([]slot, size), mask: uint64(size - 1), depth: depth}
}

// publish stores s in slot i of t, a table readers may see: atomically, the session last.
func (t *table) publish(i, hl uint64, s *Session) {
	sl := &t.slots[i]
	atomic.StoreUint64(&sl.hl, hl)
	atomic.StorePointer(&sl.key, unsafe.Pointer(unsafe.StringData(s.id)))
	sl.storeS(s)
	s.tab, s.si = t, uint32(i)
}

// add puts s (stored hash hl) in the first free slot from its home of t, a new table no reader
// sees yet (plain stores: publishing the table orders them); t has room.
func (t *table) add(hl uint64, s *Session) {
	i := t.home(hl)
	for t.slots[i].s != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i] = slot{hl: hl, key: unsafe.Pointer(unsafe.StringData(s.id)), s: s}
	s.tab, s.si = t, uint32(i)
	t.used++
	t.live++
}

// sizeFor returns the table size at which n sessions fill at most 3/8 of it.
func sizeFor(n int) int {
	size := tableMinSlots
	for 8*(n+1) > 3*size {
		size <<= 1
	}
	return size
}

// grow makes room in t, which reached 3/4 load: it rebuilds t at the size where its sessions
// fill at most 3/8 of it (bigger, or the same or smaller without tombstones) up to
// tableMaxSlots, and splits it in two past that.
func (x *index) grow(t *table) {
	size := sizeFor(t.live)
	if size > tableMaxSlots && x.split(t) {
		return
	}
	x.rebuild(t, size)
}

// rebuild replaces t by a table of size slots holding its sessions.
func (x *index) rebuild(t *table, size int) {
	nt := newTable(size, t.depth)
	t.moveTo(nt)
	x.replace(t, nt, nt)
}

// moveTo adds t's live sessions to nt.
func (t *table) moveTo(nt *table) {
	for _, sl := range t.slots {
		if sl.s != nil && sl.s != tombstone {
			nt.add(sl.hl, sl.s)
		}
	}
}

// split moves t's sessions into two tables by the next directory bit; false (and nothing
// done) when they would all go to one side (keys whose hashes agree on that many bits: the
// table then grows past tableMaxSlots instead).
func (x *index) split(t *table) bool {
	bit := 63 - 8 - t.depth // the next directory bit, counted from the low end
	n1 := 0
	for _, sl := range t.slots {
		if sl.s != nil && sl.s != tombstone {
			n1 += int(sl.hl >> bit & 1)
		}
	}
	if n1 == 0 || n1 == t.live || t.depth >= 48 {
		return false
	}
	if d := x.dir.Load(); t.depth == d.depth { // double the directory
		nd := &directory{depth: d.depth + 1, tabs: make([]atomic.Pointer[table], 2*len(d.tabs))}
		for i := range d.tabs {
			p := d.tabs[i].Load()
			nd.tabs[2*i].Store(p)
			nd.tabs[2*i+1].Store(p)
		}
		x.dir.Store(nd)
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
	d := x.dir.Load()
	// The entries of t are a run of 1<<(d.depth-t.depth) starting at a multiple of it.
	run := 1 << (d.depth - t.depth)
	for start := 0; start < len(d.tabs); start += run {
		if d.tabs[start].Load() != t {
			continue
		}
		for i := range run {
			if i < run/2 || t0 == t1 {
				d.tabs[start+i].Store(t0)
			} else {
				d.tabs[start+i].Store(t1)
			}
		}
		return
	}
	panic("sessioncore: index table not in its directory")
}

// shrink gives back the room of t, whose live sessions fell to 1/32 of its slots or to a
// handful (hl is the stored hash of a key of t). While t and its buddy have the same depth and
// one is empty, the empty one folds into the other (it takes over the empty one's directory
// entries; nothing moves); while they hold mergeMax sessions between them, they merge. Then t,
// if still that sparse, is rebuilt at the size its sessions need, which moves at most 1/32 of
// its size. Moving a session writes its table and slot number, a cold cache line when the
// sweep removes idle sessions, hence the sparse thresholds: a sweep that empties a registry
// moves fewer than one session per ten it removes.
func (x *index) shrink(t *table, hl uint64) {
	for t.depth > 0 {
		d := x.dir.Load()
		run := 1 << (d.depth - t.depth)
		start := d.entry(hl) &^ (run - 1)
		b := d.tabs[start^run].Load()
		lo := min(start, start^run)
		switch {
		case b.depth != t.depth:
			t = nil
		case t.live == 0:
			t = b
			x.fold(t, lo, 2*run)
		case b.live == 0:
			x.fold(t, lo, 2*run)
		case t.live+b.live <= mergeMax:
			nt := newTable(sizeFor(t.live+b.live), t.depth) // fold makes it shallower
			t.moveTo(nt)
			b.moveTo(nt)
			t = nt
			x.fold(t, lo, 2*run)
		default:
			t = nil
		}
		if t == nil {
			t = d.tableOf(hl)
			break
		}
	}
	if size := sizeFor(t.live); 32*t.live <= len(t.slots) && size < len(t.slots) {
		x.rebuild(t, size)
	}
}

// mergeMax is the most sessions two buddies may hold between them to be merged.
const mergeMax = 8

// fold points the directory entries of b and of its buddy, the run of n from start, at b, one
// bit shallower (the buddy is empty or merged into b; b's slots do not depend on its depth),
// and halves the directory while no table needs its last bit.
func (x *index) fold(b *table, start, n int) {
	b.depth--
	d := x.dir.Load()
	for i := start; i < start+n; i++ {
		d.tabs[i].Store(b)
	}
	for d.depth > 0 {
		for i := 0; i < len(d.tabs); i += 2 {
			if d.tabs[i].Load() != d.tabs[i+1].Load() {
				return
			}
		}
		nd := &directory{depth: d.depth - 1, tabs: make([]atomic.Pointer[table], len(d.tabs)/2)}
		for i := range nd.tabs {
			nd.tabs[i].Store(d.tabs[2*i].Load())
		}
		x.dir.Store(nd)
		d = nd
	}
}

// has reports whether s is in the index.
func (x *index) has(s *Session) bool { return s.tab != nil && s.tab.slots[s.si].s == s }

// remove takes s out of the index: stores into its slot, no probe; its table shrinks when few
// sessions are left in it. s must be in it. The slot is freed when its table is next rebuilt.
func (x *index) remove(s *Session) {
	t := s.tab
	sl := &t.slots[s.si]
	atomic.StorePointer(&sl.key, nil)
	sl.storeS(tombstone)
	s.tab = nil
	t.live--
	x.n--
	if 32*t.live <= len(t.slots) && len(t.slots) > tableMinSlots || t.live <= mergeMax/2 && t.depth > 0 {
		x.shrink(t, sl.hl)
	}
}

// each calls f for every session in the index.
func (x *index) each(f func(*Session)) {
	d := x.dir.Load()
	if d == nil {
		return
	}
	var last *table
	for i := range d.tabs {
		t := d.tabs[i].Load()
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
	x.each(func(s *Session) { s.tab = nil })
	x.dir.Store(nil)
	x.n = 0
}
