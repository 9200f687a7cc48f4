package bench

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/jellydator/ttlcache/v3"
	"github.com/maypok86/otter/v2"
	"github.com/puzpuzpuz/xsync/v4"

	"github.com/benchd/benchd/sessioncore"
)

// session is what the plain maps store per entry: a 48-byte struct (with its 32-byte key
// string shared with the map's key).
type session struct {
	id         string
	created    int64
	lastActive int64
	expires    int64
	state      uint64
}

// idleTTL is the idle TTL of the implementations that expire entries themselves.
const idleTTL = 30 * time.Minute

// nowNanos stands in for a coarse clock: the plain maps do not read the time per operation.
const nowNanos = int64(1_763_800_000_000_000_000)

func newSession(key string) *session {
	return &session{id: key, created: nowNanos, lastActive: nowNanos, expires: nowNanos + int64(idleTTL)}
}

// registry is the part of a session registry under comparison.
type registry interface {
	create(key string) error
	lookup(key string) bool
	close()
}

// impl names a registry implementation and builds an empty one in its default
// configuration (no size hint: a registry cannot know its size in advance).
type impl struct {
	name string
	new  func() registry
}

var impls = []impl{
	{"sessioncore", newCore},
	{"mutexmap", func() registry { return &mutexMap{m: make(map[string]*session)} }},
	{"shardedmap", newSharded},
	{"syncmap", func() registry { return &syncMap{} }},
	{"xsync", func() registry { return &xsyncMap{m: xsync.NewMap[string, *session]()} }},
	{"otter", newOtter},
	{"ttlcache", func() registry {
		return &ttlCache{c: ttlcache.New[string, *session](ttlcache.WithTTL[string, *session](idleTTL))}
	}},
}

// coreRegistry is sessioncore's Registry: a full session (default handler, state machine,
// idle TTL on the expiry wheel, stats) per entry, not just a map slot.
type coreRegistry struct{ r *sessioncore.Registry }

func newCore() registry {
	r, err := sessioncore.New(sessioncore.Config{TTL: idleTTL})
	if err != nil {
		panic(err)
	}
	return coreRegistry{r}
}

func (c coreRegistry) create(key string) error {
	_, err := c.r.Start(context.Background(), sessioncore.Spec{Key: key})
	return err
}

func (c coreRegistry) lookup(key string) bool { _, ok := c.r.Lookup(key); return ok }
func (c coreRegistry) close()                 { _ = c.r.Close() }

// mutexMap is a map guarded by one RWMutex.
type mutexMap struct {
	mu sync.RWMutex
	m  map[string]*session
}

func (m *mutexMap) create(key string) error {
	s := newSession(key)
	m.mu.Lock()
	m.m[key] = s
	m.mu.Unlock()
	return nil
}

func (m *mutexMap) lookup(key string) bool {
	m.mu.RLock()
	_, ok := m.m[key]
	m.mu.RUnlock()
	return ok
}

func (m *mutexMap) close() {}

// shardedMap is 64 mutexMaps selected by a maphash of the key.
type shardedMap struct {
	seed   maphash.Seed
	shards [64]struct {
		mutexMap
		_ [40]byte // keep shards on separate cache lines
	}
}

func newSharded() registry {
	s := &shardedMap{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*session)
	}
	return s
}

func (s *shardedMap) shard(key string) *mutexMap {
	return &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))].mutexMap
}

func (s *shardedMap) create(key string) error { return s.shard(key).create(key) }
func (s *shardedMap) lookup(key string) bool  { return s.shard(key).lookup(key) }
func (s *shardedMap) close()                  {}

// syncMap is sync.Map.
type syncMap struct{ m sync.Map }

func (m *syncMap) create(key string) error { m.m.Store(key, newSession(key)); return nil }
func (m *syncMap) lookup(key string) bool  { _, ok := m.m.Load(key); return ok }
func (m *syncMap) close()                  {}

// xsyncMap is github.com/puzpuzpuz/xsync/v4's Map.
type xsyncMap struct{ m *xsync.Map[string, *session] }

func (m *xsyncMap) create(key string) error { m.m.Store(key, newSession(key)); return nil }
func (m *xsyncMap) lookup(key string) bool  { _, ok := m.m.Load(key); return ok }
func (m *xsyncMap) close()                  {}

// otterCache is github.com/maypok86/otter/v2 with an idle TTL (expiry reset on every read).
type otterCache struct {
	c *otter.Cache[string, *session]
}

func newOtter() registry {
	return &otterCache{c: otter.Must(&otter.Options[string, *session]{
		ExpiryCalculator: otter.ExpiryAccessing[string, *session](idleTTL),
	})}
}

func (o *otterCache) create(key string) error { o.c.Set(key, newSession(key)); return nil }
func (o *otterCache) lookup(key string) bool  { _, ok := o.c.GetIfPresent(key); return ok }
func (o *otterCache) close()                  { o.c.StopAllGoroutines() }

// ttlCache is github.com/jellydator/ttlcache/v3 with an idle TTL (touch on hit, its default).
type ttlCache struct {
	c *ttlcache.Cache[string, *session]
}

func (t *ttlCache) create(key string) error {
	t.c.Set(key, newSession(key), ttlcache.DefaultTTL)
	return nil
}
func (t *ttlCache) lookup(key string) bool { return t.c.Get(key) != nil }
func (t *ttlCache) close()                 {}
