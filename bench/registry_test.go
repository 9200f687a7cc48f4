package bench

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// keys are 32-character base64url IDs (24 random bytes, as sessioncore generates them),
// deterministic so that every implementation sees the same ones.
var keys = sync.OnceValue(func() []string {
	const n = 1_000_000
	rng := rand.New(rand.NewChaCha8([32]byte{'b', 'e', 'n', 'c', 'h'}))
	out := make([]string, n)
	var raw [24]byte
	for i := range out {
		for j := 0; j < len(raw); j += 8 {
			binary.LittleEndian.PutUint64(raw[j:], rng.Uint64())
		}
		out[i] = base64.RawURLEncoding.EncodeToString(raw[:])
	}
	return out
})

// lookupOrder returns the first n keys in a random order, so a lookup among 1,000,000
// entries is not helped by the order they were inserted in.
func lookupOrder(n int) []string {
	ks := keys()[:n]
	out := make([]string, n)
	for i, j := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		out[i] = ks[j]
	}
	return out
}

var sink atomic.Bool

// BenchmarkRegistry runs the same registry operations on every implementation:
//
//   - op=create/n=100000: insert fresh keys into a registry holding 100,000–200,000 entries
//     (it is rebuilt with the timer stopped every 100,000 inserts);
//   - op=lookup/n=1000 and n=1000000: find an existing key, keys in random order;
//   - op=lookup/n=1000/parallel: the same from GOMAXPROCS goroutines (RunParallel: the name's
//     -N suffix; 2 on the reference machine, and -cpu 1,2,4 gives the scaling), as lookups/s;
//   - op=lookup/n=2000/parallel: the same among 2,000. sessioncore's shards are 4×GOMAXPROCS (at
//     least 8), so at -cpu 1,2 its tables are at about 1/4 load with 1,000 and 1/2 with 2,000 (at
//     -cpu 4 the other way round): its probes, unlike xsync's buckets, get longer with the load,
//     and the two sizes show both ends of its tables' range (docs/sessioncore.md);
//   - op=lookup/n=1000-3364/parallel: the same over eight registries of 1,000 to 3,364 entries
//     (two octaves in quarter-octave steps: sweepSizes), each goroutine moving to the next one
//     every sweepBlock lookups: the rate averaged over the sizes, and so over the loads at which
//     a hash table that doubles or quadruples keeps its slots, as a registry of unknown size sees.
//     The eight together (~16,000 entries) are a bigger working set than any one of them, so its
//     rate is below the per-size ones (BenchmarkLookupSizes): compare it as a ratio;
//   - op=memory/n=1000000: live heap growth after GC per entry (B/entry), keys included,
//     measured once per -count; its op is one insert into a fresh registry.
func BenchmarkRegistry(b *testing.B) {
	for _, im := range impls {
		b.Run("impl="+im.name, func(b *testing.B) {
			b.Run("op=create/n=100000", func(b *testing.B) { benchCreate(b, im, 100_000) })
			b.Run("op=lookup/n=1000", func(b *testing.B) { benchLookup(b, im, 1000) })
			b.Run("op=lookup/n=1000000", func(b *testing.B) { benchLookup(b, im, 1_000_000) })
			b.Run("op=lookup/n=1000/parallel", func(b *testing.B) { benchLookupParallel(b, im, 1000) })
			b.Run("op=lookup/n=2000/parallel", func(b *testing.B) { benchLookupParallel(b, im, 2000) })
			b.Run("op=lookup/n=1000-3364/parallel", func(b *testing.B) { benchLookupSweep(b, im, sweepSizes) })
			b.Run("op=memory/n=1000000", func(b *testing.B) { benchMemory(b, im, 1_000_000) })
		})
	}
}

// fill returns a registry of im holding ks, after a GC: the garbage of the benchmark before
// (a closed registry of up to 1 M entries) must not be collected while this one is timed. Note:
// without it the 2-goroutine lookups of an implementation that followed a large registry
// shared the CPU with the collector.
func fill(b *testing.B, im impl, ks []string) registry {
	b.Helper()
	r := im.new()
	for _, k := range ks {
		if err := r.create(k); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	return r
}

func benchCreate(b *testing.B, im impl, live int) {
	all := keys()
	base, fresh := all[:live], all[live:2*live]
	r := fill(b, im, base)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(fresh) {
			b.StopTimer()
			r.close()
			r = fill(b, im, base)
			i = 0
			b.StartTimer()
		}
		if err := r.create(fresh[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	r.close()
}

func benchLookup(b *testing.B, im impl, n int) {
	r := fill(b, im, keys()[:n])
	defer r.close()
	order := lookupOrder(n)
	i := 0
	found := true
	b.ReportAllocs()
	for b.Loop() {
		found = found && r.lookup(order[i])
		i++
		if i == n {
			i = 0
		}
	}
	if !found {
		b.Fatal("a key was not found")
	}
	sink.Store(found)
}

func benchLookupParallel(b *testing.B, im impl, n int) { benchLookupSweep(b, im, []int{n}) }

// sweepSizes are 1,000·2^(k/4) for k = 0…7; sweepBlock is how many lookups a goroutine does in
// one of them before it moves to the next.
var sweepSizes = []int{1000, 1189, 1414, 1682, 2000, 2378, 2828, 3364}

const sweepBlock = 512

// BenchmarkLookupSizes is op=lookup/n=N/parallel over a range of sizes, one benchmark each, for
// sessioncore and xsync: where in its tables' growth cycle a registry sits decides how long its
// probes are (docs/sessioncore.md, sixth round). Not in the default set of rounds.sh (about
// 20 s a run); run it with -bench LookupSizes -cpu 2.
func BenchmarkLookupSizes(b *testing.B) {
	sizes := append(append([]int{}, sweepSizes...), 4000, 4757, 5657, 6727, 8000, 16000, 32000)
	for _, im := range impls {
		if im.name != "sessioncore" && im.name != "xsync" {
			continue
		}
		b.Run("impl="+im.name, func(b *testing.B) {
			for _, n := range sizes {
				b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchLookupParallel(b, im, n) })
			}
		})
	}
}

// benchLookupSweep runs lookups from GOMAXPROCS goroutines over registries of the given sizes,
// as lookups/s: each goroutine does sweepBlock lookups in one, then moves to the next (with one
// size, it stays), starting half an order apart from the goroutine before it.
func benchLookupSweep(b *testing.B, im impl, sizes []int) {
	regs := make([]registry, len(sizes))
	orders := make([][]string, len(sizes))
	for k, n := range sizes {
		regs[k] = fill(b, im, keys()[:n])
		orders[k] = lookupOrder(n)
	}
	defer func() {
		for _, r := range regs {
			r.close()
		}
	}()
	var start atomic.Int64
	var missed atomic.Bool
	b.ReportAllocs()
	b.SetParallelism(1) // GOMAXPROCS goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(start.Add(1))
		k := g % len(regs)
		pos := make([]int, len(regs)) // where this goroutine is in each registry's order
		for j := range pos {
			pos[j] = g * len(orders[j]) / 2 % len(orders[j])
		}
		r, order, i, left := regs[k], orders[k], pos[k], sweepBlock
		if len(regs) == 1 { // no block count: it cost one size ~8 % of its lookups/s
			for pb.Next() {
				if !r.lookup(order[i]) {
					missed.Store(true)
				}
				if i++; i == len(order) {
					i = 0
				}
			}
			return
		}
		for pb.Next() {
			if !r.lookup(order[i]) {
				missed.Store(true)
			}
			if i++; i == len(order) {
				i = 0
			}
			if left--; left == 0 {
				pos[k] = i
				if k++; k == len(regs) {
					k = 0
				}
				r, order, i, left = regs[k], orders[k], pos[k], sweepBlock
			}
		}
	})
	if missed.Load() {
		b.Fatal("a key was not found")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// benchMemory reports the live heap growth per entry of a registry of n entries (B/entry), built
// once per -count: a benchmark using b.Loop runs its function once, so the build is setup, not
// an op. One op is one insert into a fresh registry that grows to n entries (rebuilt with the
// timer stopped), so -benchtime Nx costs one build plus N inserts. Note: the first version built
// the whole registry in every op, and -benchtime 2000x meant 2,000 builds of 1 M entries.
func benchMemory(b *testing.B, im impl, n int) {
	ks := keys()[:n]
	perEntry := measureMemory(b, im, ks)
	r := im.new()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == n {
			b.StopTimer()
			r.close()
			r = im.new()
			i = 0
			b.StartTimer()
		}
		if err := r.create(ks[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	r.close()
	b.ReportMetric(perEntry, "B/entry")
}

// measureMemory builds a registry of im holding ks and returns the live heap growth after GC
// per entry.
func measureMemory(b *testing.B, im impl, ks []string) float64 {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := im.new()
	for _, k := range ks {
		// A fresh copy: the registry owns its key, as it would with keys read from the wire.
		if err := r.create(strings.Clone(k)); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(r)
	r.close()
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(len(ks))
}

// BenchmarkFloor measures this machine's floor for a lookup among many entries: one
// dependent random 8-byte read over 256 MiB (a pointer chase, so reads cannot overlap).
func BenchmarkFloor(b *testing.B) {
	b.Run("op=random-read/mib=256", func(b *testing.B) {
		const words = 256 << 20 / 4
		next := make([]uint32, words)
		// One random cycle through all words (Sattolo's algorithm).
		for i := range next {
			next[i] = uint32(i)
		}
		rng := rand.New(rand.NewPCG(3, 4))
		for i := len(next) - 1; i > 0; i-- {
			j := rng.IntN(i)
			next[i], next[j] = next[j], next[i]
		}
		p := uint32(0)
		b.ReportAllocs()
		for b.Loop() {
			p = next[p]
		}
		sink.Store(p == 0)
	})
}
