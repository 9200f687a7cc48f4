package runner

import (
	"bufio"
	"fmt"
	"io"
)

// Report compares the new side with the old as NewReport compares the Sets Parse returns
// for the same input (an old side never read is no baseline), and judges with rules (nil:
// only the regression test at o's defaults). The Report holds no Comparisons or Verdicts:
// WriteText, WriteMarkdown, WriteJSON, Status, Counts and Headline compute them from p as
// they need them, so p must not change while the Report is used. Each computation of every
// row costs about what NewReport costs, without its memory.
func (p *Pair) Report(oldLabel, newLabel string, rules *Rules, o Options) *Report {
	if rules == nil {
		rules = &Rules{}
	}
	hasOld := p.sides[sideOld].read
	if !hasOld {
		oldLabel = ""
	}
	pr := &pairRows{p: p, rules: rules, o: o, hasOld: hasOld}
	pr.match()
	pr.scaling = rules.scaling(pr.len(), pr.name, pr.cmp)
	nw := &p.sides[sideNew]
	return &Report{OldLabel: oldLabel, NewLabel: newLabel, Config: nw.config, Failures: nw.failures, rows: pr}
}

// pairRows is the rowSource of a Pair's report: the new side's results in first-seen
// order, then the results only the old side has, as CompareSets orders them.
type pairRows struct {
	p       *Pair
	rules   *Rules
	o       Options
	hasOld  bool
	matched []int32 // by new row: the old row it is compared with, +1 (0: none)
	oldOnly []int32 // old rows no new row is compared with
	scaling map[int]firing
	buf     [2][]float64 // samples, reused
}

// match pairs every new row with an old row as CompareSets does: the same package, name,
// procs and unit, else the one old result of that name, procs and unit in any package.
func (pr *pairRows) match() {
	p := pr.p
	old, nw := &p.sides[sideOld], &p.sides[sideNew]
	pr.matched = make([]int32, nw.rows.len())
	if !pr.hasOld {
		return
	}
	seen := make([]bool, old.rows.len())
	for i := range int32(nw.rows.len()) {
		r := nw.rows.at(i)
		m := p.find(sideOld, r.bench, r.unit)
		if m < 0 {
			m = pr.loose(r)
		}
		if m >= 0 {
			pr.matched[i] = m + 1
			seen[m] = true
		}
	}
	for i, s := range seen {
		if !s {
			pr.oldOnly = append(pr.oldOnly, int32(i))
		}
	}
}

// loose returns the old row of r's name, procs and unit when exactly one package of the
// old side has one, else -1.
func (pr *pairRows) loose(r *pairRow) int32 {
	p := pr.p
	full := p.benches.at(r.bench).full
	found := int32(-1)
	for pkg, has := range p.sides[sideOld].hasPkg {
		if !has {
			continue
		}
		ob := p.index.findString(p, int32(pkg), full)
		if ob < 0 {
			continue
		}
		if m := p.find(sideOld, ob, r.unit); m >= 0 {
			if found >= 0 {
				return -1 // ambiguous: more than one package has it
			}
			found = m
		}
	}
	return found
}

func (pr *pairRows) len() int { return len(pr.matched) + len(pr.oldOnly) }

// at returns the side and row index of comparison i.
func (pr *pairRows) at(i int) (side int, row int32) {
	if i < len(pr.matched) {
		return sideNew, int32(i)
	}
	return sideOld, pr.oldOnly[i-len(pr.matched)]
}

func (pr *pairRows) unit(i int) string {
	s, r := pr.at(i)
	return pr.p.units[pr.p.sides[s].rows.at(r).unit]
}

func (pr *pairRows) name(i int) string {
	s, r := pr.at(i)
	return pr.p.benches.at(pr.p.sides[s].rows.at(r).bench).name()
}

func (pr *pairRows) cmp(i int) Comparison {
	s, r := pr.at(i)
	if s == sideOld {
		old := pr.p.result(sideOld, r, pr.buf[sideOld])
		pr.buf[sideOld] = old.Samples[:0]
		return Compare(&old, nil, pr.o)
	}
	nw := pr.p.result(sideNew, r, pr.buf[sideNew])
	pr.buf[sideNew] = nw.Samples[:0]
	if m := pr.matched[i]; m != 0 {
		old := pr.p.result(sideOld, m-1, pr.buf[sideOld])
		pr.buf[sideOld] = old.Samples[:0]
		return Compare(&old, &nw, pr.o)
	}
	return Compare(nil, &nw, pr.o)
}

func (pr *pairRows) row(i int) (Comparison, Verdict) {
	c := pr.cmp(i)
	f, ok := pr.scaling[i]
	return c, pr.rules.verdict(c, pr.o.withDefaults(), f, ok)
}

// WriteGoBench writes the new side as WriteGoBench writes the Set Parse returns for it.
func (p *Pair) WriteGoBench(w io.Writer) error {
	bw := bufio.NewWriter(w)
	nw := &p.sides[sideNew]
	writeGoBenchHeader(bw, nw.config, nw.declared)
	// Benchmarks in the first-seen order of their results; each one's units in theirs.
	pkg := ""
	done := make([]bool, p.benches.len())
	var samples [][]float64
	var rowUnits []string
	for i := range int32(nw.rows.len()) {
		bi := nw.rows.at(i).bench
		if done[bi] {
			continue
		}
		done[bi] = true
		b := p.benches.at(bi)
		if name := p.pkgs[b.pkg]; name != pkg {
			fmt.Fprintf(bw, "pkg: %s\n", name)
			pkg = name
		}
		samples, rowUnits = samples[:0], rowUnits[:0]
		n := 0
		for r := b.head[sideNew]; r != 0; r = nw.rows.at(r - 1).next {
			res := p.result(sideNew, r-1, nil)
			samples = append(samples, res.Samples)
			rowUnits = append(rowUnits, res.Unit)
			n = max(n, len(res.Samples))
		}
		for k := range n {
			writeGoBenchLine(bw, b.full, k, len(samples), func(j int) ([]float64, string) { return samples[j], rowUnits[j] })
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing benchmark output: %w", err)
	}
	return nil
}
