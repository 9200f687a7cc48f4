package runner

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strconv"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// Pair is two pieces of Go benchmark output, a baseline (old) and a run (new), held
// compactly for comparing them: per benchmark its name once, per result its unit and its
// sample values, nothing else. `benchd compare` reads its two files into a Pair so that
// 10^6 benchmarks fit in a few hundred megabytes, and Pair.Report computes each comparison
// as it is written instead of holding them. A Pair compares as NewReport compares the two
// Sets that Parse returns for the same input.
//
// The zero Pair is not ready: use NewPair. Read each side at most once.
type Pair struct {
	pkgs    []string // `pkg:` values
	pkgIdx  map[string]int32
	benches chunks[pairBench]
	index   benchIndex
	units   []string
	unitIdx map[string]int32
	sides   [2]pairSide
	over    map[string]Direction // SetUnits
}

const (
	sideOld = 0
	sideNew = 1
)

// pairBench is one benchmark (package, name, procs), shared by both sides.
type pairBench struct {
	full  string // canonicalName(name, procs)
	pkg   int32
	procs int32
	head  [2]int32 // first row of this benchmark on each side, +1 (0: none)
}

// name returns the benchmark's name without "Benchmark" and -procs.
func (b *pairBench) name() string {
	end := len(b.full)
	if b.procs > 0 {
		end -= 1 + len(strconv.Itoa(int(b.procs)))
	}
	return b.full[len("Benchmark"):end]
}

// pairRow is one result of one side: a benchmark in one unit and its samples.
type pairRow struct {
	first float64 // the first sample
	bench int32
	next  int32 // the next row of the same benchmark on this side, +1 (0: none)
	more  int32 // index+1 in pairSide.more of the samples after the first (0: none)
	unit  int32
}

// pairSide is what one side read holds besides the shared benchmarks.
type pairSide struct {
	read     bool
	rows     chunks[pairRow]
	more     [][]float64
	config   []ConfigLine
	failures []Failure
	declared map[string]Direction // Set.Units: directions declared by `Unit … better=`
	better   []Direction          // by unit index: declared or the unit's default
	exact    []bool               // by unit index: `Unit … assume=exact`
	hasPkg   []bool               // by package index: the side has results in it
}

// NewPair returns an empty Pair.
func NewPair() *Pair {
	return &Pair{pkgIdx: map[string]int32{}, unitIdx: map[string]int32{}}
}

// ReadOld reads the baseline's Go benchmark output; see ReadNew.
func (p *Pair) ReadOld(r io.Reader, fileName string) (n int, err error) {
	return p.read(sideOld, r, fileName)
}

// ReadNew reads the run's Go benchmark output as Parse reads it — config lines, results,
// `Unit` metadata, failures — streaming, and checks its values as CheckValues does. It
// returns the number of results and failures read (0: the input held neither). Its error
// joins one "file:line: message" error per malformed line, as Parse's does; without one, it
// names the first NaN, ±Inf or negative value; an I/O error is returned wrapped. fileName
// is used in error positions ("" reads as "<stdin>").
func (p *Pair) ReadNew(r io.Reader, fileName string) (n int, err error) {
	return p.read(sideNew, r, fileName)
}

func (p *Pair) read(s int, r io.Reader, fileName string) (int, error) {
	sd := &p.sides[s]
	if sd.read {
		panic("runner: a side of a Pair read twice")
	}
	sd.read = true
	if fileName == "" {
		fileName = "<stdin>"
	}
	fsc := newFailureScanner(r, fileName)
	br := benchfmt.NewReader(fsc, fileName)
	var errs []error
	var bad error
	cfgSeen := map[string]bool{}
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			errs = append(errs, rec)
		case *benchfmt.Result:
			if bad == nil {
				bad = checkRecord(rec)
			}
			if err := CheckIters(rec.Iters); err != nil {
				file, line := rec.Pos()
				errs = append(errs, &benchfmt.SyntaxError{FileName: file, Line: line, Msg: err.Error()})
				continue
			}
			for _, c := range rec.Config {
				if c.File && !cfgSeen[c.Key] {
					cfgSeen[c.Key] = true
					sd.config = append(sd.config, ConfigLine{Key: c.Key, Value: string(c.Value)})
				}
			}
			b := p.bench(p.pkg(rec), rec.Name)
			for _, v := range rec.Values {
				p.add(s, b, p.unit(v.Unit), v.Value)
			}
		}
	}
	if err := br.Err(); err != nil {
		return 0, fmt.Errorf("reading benchmark output: %w", err)
	}
	sd.failures = fsc.result()
	units := br.Units()
	for k, m := range units {
		if k.Key != "better" {
			continue
		}
		if sd.declared == nil {
			sd.declared = make(map[string]Direction)
		}
		sd.declared[k.Unit] = Direction(units.GetBetter(m.OrigUnit))
	}
	sd.better = make([]Direction, len(p.units))
	sd.exact = make([]bool, len(p.units))
	for i, u := range p.units {
		sd.better[i] = Direction(units.GetBetter(u))
		sd.exact[i] = units.GetAssumption(u) == benchmath.AssumeExact
	}
	n := sd.rows.len() + len(sd.failures)
	if len(errs) > 0 {
		return n, errors.Join(errs...)
	}
	return n, bad
}

// pkg returns the index of rec's `pkg:` value, adding it when new.
func (p *Pair) pkg(rec *benchfmt.Result) int32 {
	var v []byte
	if i, ok := rec.ConfigIndex("pkg"); ok {
		v = rec.Config[i].Value
	}
	if i, ok := p.pkgIdx[string(v)]; ok {
		return i
	}
	i := int32(len(p.pkgs))
	p.pkgs = append(p.pkgs, string(v))
	p.pkgIdx[string(v)] = i
	return i
}

// canonicalName is the full name a benchmark is keyed by: "Benchmark" + name + "-procs".
func canonicalName(name string, procs int) string {
	if procs > 0 {
		return "Benchmark" + name + "-" + strconv.Itoa(procs)
	}
	return "Benchmark" + name
}

// bench returns the index of the benchmark full (as written) in package pkg, adding it when
// new. Names that split alike ("X-02", "X-2") are one benchmark, as in Parse.
func (p *Pair) bench(pkg int32, full []byte) int32 {
	if b := p.index.find(p, pkg, full); b >= 0 { // no allocation: a benchmark seen before
		return b
	}
	s := string(full)
	name, procs := splitName(s)
	if canon := canonicalName(name, procs); canon != s {
		if b := p.index.findString(p, pkg, canon); b >= 0 {
			return b
		}
		s = canon
	}
	b := p.benches.add(pairBench{full: s, pkg: pkg, procs: int32(procs)})
	p.index.add(p, b)
	return b
}

// benchIndex finds a Pair's benchmarks by package and canonical full name: an open-addressing
// hash table of benchmark indices, a few bytes per benchmark where a map[string]int32 took
// about a hundred.
type benchIndex struct {
	seed  maphash.Seed
	slots []int32 // benchmark index + 1; 0: empty
	n     int
}

// mix combines the hash of a full name with its package.
func mix(h uint64, pkg int32) uint64 { return h ^ uint64(pkg)*0x9e3779b97f4a7c15 }

// find returns the index of the benchmark full in pkg, or -1.
func (x *benchIndex) find(p *Pair, pkg int32, full []byte) int32 {
	if x.n == 0 {
		return -1
	}
	return x.probe(p, mix(maphash.Bytes(x.seed, full), pkg), func(b *pairBench) bool { return b.pkg == pkg && b.full == string(full) })
}

// findString is find for a name held as a string.
func (x *benchIndex) findString(p *Pair, pkg int32, full string) int32 {
	if x.n == 0 {
		return -1
	}
	return x.probe(p, mix(maphash.String(x.seed, full), pkg), func(b *pairBench) bool { return b.pkg == pkg && b.full == full })
}

// probe returns the first benchmark from slot h on that is, or -1 at an empty slot.
func (x *benchIndex) probe(p *Pair, h uint64, is func(*pairBench) bool) int32 {
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; x.slots[i] != 0; i = (i + 1) & mask {
		if is(p.benches.at(x.slots[i] - 1)) {
			return x.slots[i] - 1
		}
	}
	return -1
}

// add indexes benchmark b, which find does not find yet.
func (x *benchIndex) add(p *Pair, b int32) {
	if 2*(x.n+1) > len(x.slots) {
		old := x.slots
		if x.n == 0 {
			x.seed = maphash.MakeSeed()
		}
		x.slots = make([]int32, max(64, 2*len(old)))
		x.n = 0
		for _, s := range old {
			if s != 0 {
				x.add(p, s-1)
			}
		}
	}
	bn := p.benches.at(b)
	mask := uint64(len(x.slots) - 1)
	i := mix(maphash.String(x.seed, bn.full), bn.pkg) & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = b + 1
	x.n++
}

// unit returns the index of the tidied unit u, adding it when new.
func (p *Pair) unit(u string) int32 {
	if i, ok := p.unitIdx[u]; ok {
		return i
	}
	i := int32(len(p.units))
	p.units = append(p.units, u)
	p.unitIdx[u] = i
	return i
}

// add appends sample v of benchmark b in unit u to side s.
func (p *Pair) add(s int, b, u int32, v float64) {
	sd := &p.sides[s]
	bn := p.benches.at(b)
	link := &bn.head[s]
	for *link != 0 {
		r := sd.rows.at(*link - 1)
		if r.unit == u {
			if r.more == 0 {
				sd.more = append(sd.more, []float64{v})
				r.more = int32(len(sd.more))
			} else {
				sd.more[r.more-1] = append(sd.more[r.more-1], v)
			}
			return
		}
		link = &r.next
	}
	*link = sd.rows.add(pairRow{first: v, bench: b, unit: u}) + 1
	for int(bn.pkg) >= len(sd.hasPkg) {
		sd.hasPkg = append(sd.hasPkg, false)
	}
	sd.hasPkg[bn.pkg] = true
}

// find returns the row of benchmark b in unit u on side s, or -1.
func (p *Pair) find(s int, b, u int32) int32 {
	for i := p.benches.at(b).head[s]; i != 0; {
		r := p.sides[s].rows.at(i - 1)
		if r.unit == u {
			return i - 1
		}
		i = r.next
	}
	return -1
}

// SetUnits sets the direction of every result whose unit is a key of units (tidied units,
// e.g. from the project file) on both sides, overriding `Unit … better=` metadata and the
// defaults, as Set.SetUnits does.
func (p *Pair) SetUnits(units map[string]Direction) { p.over = units }

// result returns row i of side s as a Result whose Samples is samples (reused).
func (p *Pair) result(s int, i int32, samples []float64) Result {
	sd := &p.sides[s]
	r := sd.rows.at(i)
	b := p.benches.at(r.bench)
	samples = append(samples[:0], r.first)
	if r.more != 0 {
		samples = append(samples, sd.more[r.more-1]...)
	}
	unit := p.units[r.unit]
	better := sd.better[r.unit]
	if d, ok := p.over[unit]; ok {
		better = d
	}
	return Result{Name: b.name(), Procs: int(b.procs), Unit: unit, Better: better, Samples: samples,
		Pkg: p.pkgs[b.pkg], Exact: sd.exact[r.unit]}
}

// chunks is an append-only list stored in fixed-size chunks: growing it never copies, and
// pointers to its elements stay valid.
type chunks[T any] struct {
	c [][]T
	n int
}

const chunkSize = 1 << 12

func (c *chunks[T]) len() int { return c.n }

// add appends v and returns its index.
func (c *chunks[T]) add(v T) int32 {
	if c.n%chunkSize == 0 {
		c.c = append(c.c, make([]T, 0, chunkSize))
	}
	last := &c.c[len(c.c)-1]
	*last = append(*last, v)
	c.n++
	return int32(c.n - 1)
}

func (c *chunks[T]) at(i int32) *T { return &c.c[i/chunkSize][i%chunkSize] }
