package runner

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// WriteGoBench writes set in the Go benchmark format, so benchstat and every other tool that
// reads `go test -bench` output can read it: the config lines, one `Unit … better=` line per
// unit with declared metadata, then one benchmark line per sample index of each benchmark
// holding every unit measured at that index. sec/op is written back as ns/op and B/s as
// MB/s; the iteration count, which Set does not keep, is written as 1. An empty set writes
// only its config lines.
func WriteGoBench(w io.Writer, set *Set) error {
	bw := bufio.NewWriter(w)
	pkg := ""
	writeGoBenchHeader(bw, set.Config, set.Units)
	for _, g := range groupResults(set.Results) {
		if g.pkg != pkg {
			fmt.Fprintf(bw, "pkg: %s\n", g.pkg)
			pkg = g.pkg
		}
		full := "Benchmark" + g.name
		if g.procs > 0 {
			full += "-" + strconv.Itoa(g.procs)
		}
		for i := 0; i < g.samples; i++ {
			writeGoBenchLine(bw, full, i, len(g.results), func(j int) ([]float64, string) { return g.results[j].Samples, g.results[j].Unit })
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing benchmark output: %w", err)
	}
	return nil
}

// writeGoBenchHeader writes the config lines but pkg (written before each package's
// benchmarks) and a `Unit … better=` line per unit with a declared direction, sorted.
func writeGoBenchHeader(bw *bufio.Writer, config []ConfigLine, declared map[string]Direction) {
	for _, c := range config {
		if c.Key != "pkg" {
			fmt.Fprintf(bw, "%s: %s\n", c.Key, c.Value)
		}
	}
	units := make([]string, 0, len(declared))
	for u := range declared {
		units = append(units, u)
	}
	sort.Strings(units)
	for _, u := range units {
		switch declared[u] {
		case HigherBetter:
			fmt.Fprintf(bw, "Unit %s better=higher\n", u)
		case LowerBetter:
			fmt.Fprintf(bw, "Unit %s better=lower\n", u)
		}
	}
}

// writeGoBenchLine writes the benchmark line of sample i of the benchmark named full: each
// of its n results (samples and unit of result j from result) that has an i-th sample, with
// an iteration count of 1.
func writeGoBenchLine(bw *bufio.Writer, full string, i, n int, result func(j int) ([]float64, string)) {
	bw.WriteString(full)
	bw.WriteString(" 1")
	for j := range n {
		s, unit := result(j)
		if i >= len(s) {
			continue
		}
		v, u := untidy(s[i], unit)
		bw.WriteByte(' ')
		bw.WriteString(v)
		bw.WriteByte(' ')
		bw.WriteString(u)
	}
	bw.WriteByte('\n')
}

// resultGroup is the results of one benchmark (all its units).
type resultGroup struct {
	pkg, name string
	procs     int
	samples   int // the largest sample count among results
	results   []*Result
}

// groupResults groups results by benchmark, keeping first-seen order.
func groupResults(rs []Result) []*resultGroup {
	type key struct {
		pkg, name string
		procs     int
	}
	idx := make(map[key]*resultGroup)
	var out []*resultGroup
	for i := range rs {
		r := &rs[i]
		k := key{r.Pkg, r.Name, r.Procs}
		g := idx[k]
		if g == nil {
			g = &resultGroup{pkg: r.Pkg, name: r.Name, procs: r.Procs}
			idx[k] = g
			out = append(out, g)
		}
		g.results = append(g.results, r)
		g.samples = max(g.samples, len(r.Samples))
	}
	return out
}

// untidy formats v in the unit Go's testing package would print: ns/op for sec/op and MB/s
// for B/s (benchunit.Tidy's inverse for the units testing emits).
func untidy(v float64, unit string) (string, string) {
	switch unit {
	case "sec/op":
		return strconv.FormatFloat(v*1e9, 'g', 12, 64), "ns/op"
	case "B/s":
		return strconv.FormatFloat(v/1e6, 'g', 12, 64), "MB/s"
	}
	return strconv.FormatFloat(v, 'g', -1, 64), unit
}
