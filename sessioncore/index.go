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
// reads the slot and the key's bytes but not the session. A table of tableMaxSlots that reaches
// 3/4 load (tombstones included) splits in two, or is rebuilt without its tombstones, so growing
// never moves more than one table's sessions at a time; a smaller table grows at 1/2 (see
// table.needsRoom). A
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
	// one is the first slot of the directory's only table while its depth is 0 (nil
	// otherwise), and oneMask that table's mask: a reader of a small index reads both from its
	// shard's cache line and goes straight to its slot, three dependent loads fewer (the
	// directory, its entry and the table) on a path that is a chain of them. They change
	// together only in setOne, whose order of stores keeps a reader's mask within its table.
	one     atomic.Pointer[slot]
	oneMask atomic.Uint64
	n       int // live sessions
	// Shrinking: a pass over the tables starts when n falls to shrinkAt (about 1/32 of the
	// slots) and goes on, a table or so per removal, from directory entry cursor (-1: none).
	slots    int // slots of all tables
	shrinkAt int
	cursor   int
}

// directory maps the hash bits below the shard's to tables; it is replaced, never resized, when
// its depth changes, and its entries are stored atomically.
type directory struct {
	depth uint                    // global depth
	tabs  []atomic.Pointer[table] // 1<<depth entries
}

// table is one part of an index: open addressing with linear probing. Its slots slice and mask
// never change once published; used and depth are the writers' bookkeeping. Removing a
// session does not touch the table's header (the slot becomes a tombstone, used does not
// change), so its live count is only known by a scan, which every rebuild does anyway.
type table struct {
	slots []slot
	mask  uint64
	used  int  // slots not empty: live sessions and tombstones
	depth uint // local depth: the directory bits all its keys share
}

// slot is read atomically by lock-free readers; in a published table it is written atomically.
type slot struct {
	hl  uint64         // the key's hash with its low byte replaced by the key's length
	key unsafe.Pointer // the key's bytes (a tombstone keeps its last key's)
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
		if sl.hl == hl && sl.s != tombstone && keyString(sl.key, len(id)) == id {
			return sl.s
		}
	}
}

// The lock-free reader of the index is Registry.Lookup (the probe is written out there: the
// read path is a chain of dependent loads, and a call spills and reloads around it). Its
// probe ends even while writers insert: a published table always keeps a quarter of its slots
// empty, and an empty slot is never re-created.

// slotAt returns slot i of the slots starting at first; i must be within them: no bounds check.
func slotAt(first *slot, i uint64) *slot {
	return (*slot)(unsafe.Add(unsafe.Pointer(first), uintptr(i)*unsafe.Sizeof(slot{})))
}

// keyString returns the n bytes at p (a slot's key) as a string.
//
// Note: not unsafe.String, which checks n and that p+n does not wrap around: four instructions
// and a branch on a lookup's path (of ~170) for a key whose length the stored hash has already
// matched, stored from a real string.
func keyString(p unsafe.Pointer, n int) string {
	return *(*string)(unsafe.Pointer(&struct {
		p unsafe.Pointer
		n int
	}{p, n}))
}

// tableOf returns the table of stored hash hl by the directory, nil when there is none.
func (x *index) tableOf(hl uint64) *table {
	d := x.dir.Load()
	if d == nil {
		return nil
	}
	return d.tableOf(hl)
}

// insert adds s (hash h) unless a session with its ID is present; false when it is.
func (x *index) insert(h uint64, s *Session) bool {
	d := x.dir.Load()
	if d == nil {
		d = &directory{tabs: make([]atomic.Pointer[table], 1)}
		d.tabs[0].Store(newTable(tableMinSlots, 0))
		x.dir.Store(d)
		x.slots, x.cursor = tableMinSlots, -1
		x.setOne()
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
		} else if sl.hl == hl && keyString(sl.key, len(id)) == id {
			return false
		}
	}
	if reuse >= 0 {
		t.publish(uint64(reuse), hl, s)
		x.n++
		return true
	}
	if t.needsRoom() {
		x.grow(t)
		x.setOne()
		t = x.dir.Load().tableOf(hl)
		for i = t.home(hl); t.slots[i].s != nil; i = (i + 1) & t.mask {
		}
	}
	t.publish(i, hl, s)
	t.used++
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
	s.sl = sl
}

// add puts s (stored hash hl) in the first free slot from its home of t, a new table no reader
// sees yet (plain stores: publishing the table orders them); t has room.
func (t *table) add(hl uint64, s *Session) {
	i := t.home(hl)
	for t.slots[i].s != nil {
		i = (i + 1) & t.mask
	}
	sl := &t.slots[i]
	*sl = slot{hl: hl, key: unsafe.Pointer(unsafe.StringData(s.id)), s: s}
	s.sl = sl
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

// needsRoom reports whether t must grow (or split, or be rebuilt without its tombstones) before
// one more of its slots is used: at 3/4 load for a table of tableMaxSlots, at 1/2 for a smaller
// one.
//
// Note: a lookup's probe, and the branch that ends it, get longer with the load (linear
// probing). With every table growing at 3/4 (to 3/8, which the power-of-two sizes make 3/16
// for a growing table), a registry of 2,000–3,000 sessions had its one table per shard at
// 1/2–3/4 load and its lookups from two goroutines were 0.72–0.84× xsync.Map's; growing the
// small tables at 1/2 made them 0.88–0.99× (docs/sessioncore.md, sixth round). Full-size tables
// keep 3/4: growing them at 1/2 too made an insert that splits tables ~20 % slower and an idle
// session ~25 B bigger at 1,000,000, where lookups wait on cache misses, not on the probe.
func (t *table) needsRoom() bool {
	if l := len(t.slots); l < tableMaxSlots {
		return 2*(t.used+1) > l
	}
	return 4*(t.used+1) > 3*len(t.slots)
}

// sizeAt returns the table size (a power of two, at least tableMinSlots) at which n sessions fill
// at most num/den of it.
func sizeAt(n, num, den int) int {
	size := tableMinSlots
	for den*(n+1) > num*size {
		size <<= 1
	}
	return size
}

// sizeFor returns the table size at which n sessions fill at most 3/8 of it: what a full-size
// table's rebuild, and one that shrinks or merges tables, makes.
func sizeFor(n int) int { return sizeAt(n, 3, 8) }

// grow makes room in t, which needsRoom: a table smaller than tableMaxSlots is rebuilt at the
// size where its sessions fill at most 1/4 of it, up to tableMaxSlots; a full-size one is
// rebuilt where they fill at most 3/8 (the same size without tombstones, or smaller), or split
// in two when that is past tableMaxSlots.
func (x *index) grow(t *table) {
	n := t.live()
	size := sizeFor(n)
	if len(t.slots) < tableMaxSlots {
		size = min(sizeAt(n, 1, 4), tableMaxSlots)
	}
	if size > tableMaxSlots && x.split(t, n) {
		return
	}
	x.rebuild(t, size)
	x.shrinkAt = max(x.shrinkAt, x.slots/32)
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
	if d := x.dir.Load(); t.depth == d.depth { // double the directory
		nd := &directory{depth: d.depth + 1, tabs: make([]atomic.Pointer[table], 2*len(d.tabs))}
		for i := range d.tabs {
			p := d.tabs[i].Load()
			nd.tabs[2*i].Store(p)
			nd.tabs[2*i+1].Store(p)
		}
		x.dir.Store(nd)
		if x.cursor > 0 {
			x.cursor *= 2
		}
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
	x.shrinkAt = max(x.shrinkAt, x.slots/32)
	return true
}

// replace points the directory entries of t at t0 (first half) and t1 (second half); t0 and
// t1 are the same table for a rebuild.
func (x *index) replace(t, t0, t1 *table) {
	x.slots += len(t0.slots) - len(t.slots)
	if t1 != t0 {
		x.slots += len(t1.slots)
	}
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

// compactStep goes on with the shrinking pass: it scans the tables from the cursor, at least
// one and about tableMaxSlots slots' worth, and shrinks those that could be half their size
// (at most 3/16 full) or hold a handful.
func (x *index) compactStep() {
	if x.cursor < 0 {
		x.cursor = 0
	}
	for scanned := 0; scanned < tableMaxSlots; {
		d := x.dir.Load()
		if x.cursor >= len(d.tabs) {
			x.cursor = -1
			x.shrinkAt = min(x.slots/32, x.n/2) // a pass that could not do more waits for n to halve
			if d.depth > 0 && x.n <= mergeMax {
				x.collapse(d)
			}
			return
		}
		t := d.tabs[x.cursor].Load()
		run := 1 << (d.depth - t.depth)
		start := x.cursor &^ (run - 1)
		live := t.live()
		scanned += len(t.slots)
		if sizeFor(live) < len(t.slots) || live <= mergeMax/2 && t.depth > 0 {
			t, start = x.shrink(t, start, live)
			d = x.dir.Load()
			run = 1 << (d.depth - t.depth)
		}
		x.cursor = start + run
	}
}

// shrink gives back the room of t, whose run of directory entries starts at start and which
// holds live sessions, at most 3/16 of its slots or a handful. While t and its buddy (the table
// that differs in its last directory bit) have the same depth and one is empty, the empty one
// folds into the other (it takes over the empty one's directory entries; nothing moves);
// while they hold mergeMax sessions between them, they merge. Then t, if still that sparse, is
// rebuilt at the size its sessions need. It returns the table that now holds t's sessions and
// the start of its run. Moving a session writes its slot pointer, a cold cache line when the
// sweep removes idle sessions; a pass starts only once the whole index is 1/32 full, so it moves
// at most one session per 1/32 of the slots, after the ~11/32 of them emptied since the index
// was last rebuilt: fewer than one move per ten removals.
func (x *index) shrink(t *table, start, live int) (*table, int) {
merging:
	for t.depth > 0 {
		d := x.dir.Load()
		run := 1 << (d.depth - t.depth)
		b := d.tabs[start^run].Load()
		if b.depth != t.depth {
			break
		}
		bl := b.live()
		switch {
		case live == 0:
			x.slots -= len(t.slots)
			t, live = b, bl
		case bl == 0:
			x.slots -= len(b.slots)
		case live+bl <= mergeMax:
			nt := newTable(sizeFor(live+bl), t.depth) // fold makes it shallower
			t.moveTo(nt)
			b.moveTo(nt)
			x.slots += len(nt.slots) - len(t.slots) - len(b.slots)
			t, live = nt, live+bl
		default:
			break merging
		}
		start = x.fold(t, min(start, start^run), 2*run)
	}
	if size := sizeFor(live); size < len(t.slots) {
		nt := newTable(size, t.depth)
		t.moveTo(nt)
		x.replace(t, nt, nt)
		t = nt
	}
	return t, start
}

// mergeMax is the most sessions two buddies may hold between them to be merged.
const mergeMax = 8

// collapse rebuilds d, the directory of an index that holds at most mergeMax sessions, as one
// table: at the end of a pass, or at a removal that leaves mergeMax. A pass merges the buddies
// it finds sparse as it goes, but a half it went past while it held more can stay split, and
// the next pass waits for n to halve.
// Note: without it, an index emptied to a few sessions kept a directory of sparse tables,
// and its readers the slower path (no index.one), until n fell below half of them.
func (x *index) collapse(d *directory) {
	nt := newTable(sizeFor(x.n), 0)
	var last *table
	for i := range d.tabs {
		if t := d.tabs[i].Load(); t != last {
			t.moveTo(nt)
			last = t
		}
	}
	nd := &directory{tabs: make([]atomic.Pointer[table], 1)}
	nd.tabs[0].Store(nt)
	x.dir.Store(nd)
	x.slots = len(nt.slots)
	x.shrinkAt = min(x.slots/32, x.n/2)
}

// fold points the directory entries of b and of its buddy, the run of n from start, at b, one
// bit shallower (the buddy is empty or merged into b; b's slots do not depend on its depth),
// and halves the directory while no table needs its last bit. It returns the start of b's run
// in the directory as it is then.
func (x *index) fold(b *table, start, n int) int {
	b.depth--
	d := x.dir.Load()
	for i := start; i < start+n; i++ {
		d.tabs[i].Store(b)
	}
	for d.depth > 0 {
		for i := 0; i < len(d.tabs); i += 2 {
			if d.tabs[i].Load() != d.tabs[i+1].Load() {
				return start
			}
		}
		nd := &directory{depth: d.depth - 1, tabs: make([]atomic.Pointer[table], len(d.tabs)/2)}
		for i := range nd.tabs {
			nd.tabs[i].Store(d.tabs[2*i].Load())
		}
		x.dir.Store(nd)
		d = nd
		start /= 2
		if x.cursor > 0 {
			x.cursor /= 2
		}
	}
	return start
}

// has reports whether s is in the index.
func (x *index) has(s *Session) bool { return s.sl != nil && s.sl.s == s }

// remove takes s out of the index: stores into its slot, no probe, nothing else of the table
// read or written. s must be in it. The slot is freed when its table is next rebuilt; once the
// index is about 1/32 full, each removal also takes a step of the shrinking pass, and one that
// leaves mergeMax sessions in more than one table makes them one (collapse).
func (x *index) remove(s *Session) {
	sl := s.sl
	// Note: the key pointer stays (until the slot is reused or its table rebuilt): clearing it
	// too was a second locked store per removal, ~10% of a sweep's cost per expired session.
	sl.storeS(tombstone)
	s.sl = nil
	x.n--
	if x.n <= x.shrinkAt || x.cursor >= 0 {
		x.compactStep()
		x.setOne()
	} else if x.n <= mergeMax {
		if d := x.dir.Load(); d.depth > 0 {
			x.collapse(d)
			x.setOne()
		}
	}
}

// setOne keeps one in step with the directory (see index.one); every change of the directory
// or of its entries is followed by a call.
//
// A reader loads one, then oneMask, then one again, and keeps the mask only if one did not
// change: it then read the mask while one held the table it probes. While one holds a table,
// oneMask is at most that table's mask, because the mask first falls to the smaller of the
// old and the new table's, then one changes, then the mask becomes the new table's. A mask
// read during a change can be too small for its table (the probe then also stops after
// mask+1 slots), never too big; the shard's sequence tells the reader to retry.
func (x *index) setOne() {
	var first *slot
	var mask uint64
	if d := x.dir.Load(); d != nil && d.depth == 0 {
		t := d.tabs[0].Load()
		first, mask = &t.slots[0], t.mask
	}
	if x.one.Load() == first {
		return
	}
	x.oneMask.Store(min(x.oneMask.Load(), mask))
	x.one.Store(first)
	x.oneMask.Store(mask)
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
	x.each(func(s *Session) { s.sl = nil })
	x.dir.Store(nil)
	x.setOne()
	x.n, x.slots, x.shrinkAt, x.cursor = 0, 0, 0, -1
}
