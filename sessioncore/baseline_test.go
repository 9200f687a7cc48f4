package sessioncore

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// Baselines measured in the same run as the suites, with the standard library only: the usual
// Go ways to hold the registry part (ANCHORS.md) and the machine's random-read floor. The
// comparison with third-party maps and TTL caches lives outside this module's dependencies.

// plainSession is the 48 B value of ANCHORS.md's registry building blocks.
type plainSession struct {
	id string
	_  [4]int64 // state, created, last active, padding: only the size matters here
}

type baselineMap interface {
	put(k string, v *plainSession)
	get(k string) (*plainSession, bool)
	del(k string)
}

type rwMap struct {
	mu sync.RWMutex
	m  map[string]*plainSession
}

func (m *rwMap) put(k string, v *plainSession) { m.mu.Lock(); m.m[k] = v; m.mu.Unlock() }
func (m *rwMap) get(k string) (*plainSession, bool) {
	m.mu.RLock()
	v, ok := m.m[k]
	m.mu.RUnlock()
	return v, ok
}
func (m *rwMap) del(k string) { m.mu.Lock(); delete(m.m, k); m.mu.Unlock() }

type syncMap struct{ m sync.Map }

func (m *syncMap) put(k string, v *plainSession) { m.m.Store(k, v) }
func (m *syncMap) get(k string) (*plainSession, bool) {
	v, ok := m.m.Load(k)
	if !ok {
		return nil, false
	}
	return v.(*plainSession), true
}
func (m *syncMap) del(k string) { m.m.Delete(k) }

func BenchmarkBaseline(b *testing.B) {
	impls := []struct {
		name string
		make func() baselineMap
	}{
		{"map_rwmutex", func() baselineMap { return &rwMap{m: map[string]*plainSession{}} }},
		{"sync_map", func() baselineMap { return &syncMap{} }},
	}
	for _, impl := range impls {
		for _, n := range []int{1000, 1_000_000} {
			b.Run(fmt.Sprintf("impl=%s/op=lookup/n=%d", impl.name, n), func(b *testing.B) {
				b.ReportAllocs()
				m := impl.make()
				keys := benchKeys("look", n)
				for _, k := range keys {
					m.put(k, &plainSession{id: k})
				}
				rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
				i := 0
				for b.Loop() {
					if _, ok := m.get(keys[i]); !ok {
						b.Fatal("missing")
					}
					if i++; i == n {
						i = 0
					}
				}
			})
		}
		b.Run(fmt.Sprintf("impl=%s/op=create/live=100000", impl.name), func(b *testing.B) {
			b.ReportAllocs()
			m := impl.make()
			for _, k := range benchKeys("m", 100_000) {
				m.put(k, &plainSession{id: k})
			}
			const batch = 10_000
			fresh := benchKeys("new", batch)
			i := 0
			for b.Loop() {
				if i == batch {
					b.StopTimer()
					for _, k := range fresh {
						m.del(k)
					}
					i = 0
					b.StartTimer()
				}
				m.put(fresh[i], &plainSession{id: fresh[i]})
				i++
			}
		})
	}
}

// BenchmarkFloor measures the machine's floor for a lookup among a million sessions: one
// dependent random read over 256 MiB. (The floor of a call, the bare round trip of two
// goroutines, is BenchmarkCall/handler=floor, beside the call it bounds.)
func BenchmarkFloor(b *testing.B) {
	b.Run("op=random_read/mib=256", func(b *testing.B) {
		const n = 256 << 20 / 8
		next := make([]uint64, n)
		perm := rand.New(rand.NewPCG(5, 6)).Perm(n)
		for i := range n { // one cycle through a random permutation
			next[perm[i]] = uint64(perm[(i+1)%n])
		}
		var p uint64
		for b.Loop() {
			p = next[p]
		}
		if p >= n {
			b.Fatal("out of range")
		}
	})
}
