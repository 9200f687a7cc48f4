package runner

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// pairInputs are (old, new) pairs of Go benchmark output that exercise what CompareSets and
// the writers distinguish: packages, loose matching, results only one side has, declared
// and exact units, interleaved samples, scaling families, failures.
func pairInputs(t *testing.T) map[string][2]string {
	t.Helper()
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	noisy := func(pkgs []string, slower float64) string {
		var b strings.Builder
		b.WriteString("goos: linux\ngoarch: amd64\ncpu: test\nUnit items/s better=higher\nUnit B/x assume=exact\n")
		for _, pkg := range pkgs {
			fmt.Fprintf(&b, "pkg: %s\n", pkg)
			for rep := range 6 { // interleaved turns: every benchmark once per turn
				for i, name := range []string{"Get/n=10", "Get/n=100", "Get/n=1000", "Put", "Odd-0", "Weird-+2"} {
					f := 1 + 0.01*rng.NormFloat64()
					if i == 2 {
						f *= slower
					}
					fmt.Fprintf(&b, "Benchmark%s-2 100 %.1f ns/op %.0f items/s %d B/x\n", name, f*float64(100*(i+1)), 1e6/f, 8*(i+rep%2))
				}
			}
		}
		return b.String()
	}
	return map[string][2]string{
		"golden":       {read("testdata/compare/old.txt"), read("testdata/compare/new.txt")},
		"failures":     {read("testdata/parse/failures.txt"), read("testdata/parse/failures.txt")},
		"timeout":      {read("testdata/parse/basic.txt"), read("testdata/parse/timeout.txt")},
		"noisy":        {noisy([]string{"a", "b"}, 1), noisy([]string{"a", "b"}, 1.3)},
		"lost and new": {noisy([]string{"a", "gone"}, 1), noisy([]string{"a", "new"}, 0.7)},
		// No pkg: line in the old file: matched by name, procs and unit.
		"loose": {noisy([]string{""}, 1), noisy([]string{"x"}, 1.2)},
		// Two packages have the name in the old file: ambiguous, nothing matched.
		"ambiguous": {noisy([]string{"p", "q"}, 1), noisy([]string{"r"}, 1)},
		"procs alias": {"goos: linux\nBenchmarkA-02 10 5 ns/op\nBenchmarkA-2 10 6 ns/op\nBenchmarkB 1 1 ns/op\n",
			"goos: linux\nBenchmarkA-2 10 7 ns/op\nBenchmarkA-02 10 7 ns/op\nB 1 1 ns/op\nBenchmarkB 1 2 ns/op 3 B/op\n"},
		"units late": {"BenchmarkA 1 1 ns/op\nBenchmarkB 1 1 ns/op\nBenchmarkA 1 1 ns/op 5 B/op\n",
			"BenchmarkA 1 1 ns/op\nBenchmarkB 1 1 ns/op 2 B/op\nBenchmarkA 1 2 ns/op 5 B/op\n"},
		"empty old": {"", noisy([]string{"a"}, 1)},
	}
}

// TestPairReportMatchesSets checks that a Pair's report writes byte for byte what NewReport
// writes for the Sets Parse returns, in every format, with and without a baseline, paired
// or not, with project units; and that its status and headline are the same.
func TestPairReportMatchesSets(t *testing.T) {
	rules, err := NewRules(DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]Direction{"B/x": HigherBetter}
	for name, in := range pairInputs(t) {
		for _, tc := range []struct {
			variant  string
			baseline bool
			o        Options
			units    map[string]Direction
		}{
			{"default", true, Options{}, nil},
			{"paired", true, Options{Paired: true}, nil},
			{"units", true, Options{MinEffect: 0.2}, units},
			{"no baseline", false, Options{}, nil},
		} {
			t.Run(name+"/"+tc.variant, func(t *testing.T) {
				oldSet, _ := Parse(strings.NewReader(in[0]), "old.txt")
				newSet, _ := Parse(strings.NewReader(in[1]), "new.txt")
				p := NewPair()
				if tc.baseline {
					p.ReadOld(strings.NewReader(in[0]), "old.txt")
				} else {
					oldSet = nil
				}
				p.ReadNew(strings.NewReader(in[1]), "new.txt")
				if tc.units != nil {
					if oldSet != nil {
						oldSet.SetUnits(tc.units)
					}
					newSet.SetUnits(tc.units)
					p.SetUnits(tc.units)
				}
				want := NewReport(oldSet, newSet, "old.txt", "new.txt", rules, tc.o)
				for _, f := range []struct {
					format string
					write  func(*bytes.Buffer, *Report) error
				}{
					{"text", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r, TextOptions{}) }},
					{"color", func(b *bytes.Buffer, r *Report) error { return WriteText(b, r, TextOptions{Color: true}) }},
					{"markdown", func(b *bytes.Buffer, r *Report) error { return WriteMarkdown(b, r) }},
					{"json", func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
				} {
					got := p.Report("old.txt", "new.txt", rules, tc.o)
					var gb, wb bytes.Buffer
					if err := f.write(&gb, got); err != nil {
						t.Fatal(err)
					}
					if err := f.write(&wb, want); err != nil {
						t.Fatal(err)
					}
					if gb.String() != wb.String() {
						t.Errorf("for %s, got:\n%s\nwant:\n%s", f.format, gb.String(), wb.String())
					}
					if got.Status() != want.Status() || got.Headline() != want.Headline() {
						t.Errorf("for %s, got status %s %q, want %s %q", f.format, got.Status(), got.Headline(), want.Status(), want.Headline())
					}
				}
				var gb, wb bytes.Buffer
				if err := p.WriteGoBench(&gb); err != nil {
					t.Fatal(err)
				}
				if err := WriteGoBench(&wb, newSet); err != nil {
					t.Fatal(err)
				}
				if gb.String() != wb.String() {
					t.Errorf("for gobench, got:\n%s\nwant:\n%s", gb.String(), wb.String())
				}
			})
		}
	}
}

// TestPairReadErrors checks that a Pair refuses what Parse and CheckValues refuse, with the
// same file:line messages, and counts what it read.
func TestPairReadErrors(t *testing.T) {
	for _, tc := range []struct {
		in    string
		n     int
		wantE string
	}{
		{"goos: linux\nBenchmarkA 10 5 ns/op 3 B/op\n", 2, ""},
		{"", 0, ""},
		{"goos: linux\n--- FAIL: BenchmarkX\n    x_test.go:1: no\nFAIL\tx\t0.1s\n", 1, ""},
		{"goos: linux\nBenchmarkA 10 NaN ns/op\n", 1, `f.txt:2: benchmark "A" unit "ns/op": value is NaN`},
		{"BenchmarkA 10 5 ns/op\nBenchmarkB 10 -1 B/op\n", 2, `f.txt:2: benchmark "B" unit "B/op": value is negative`},
		{"BenchmarkA x 5 ns/op\nBenchmarkB 10 -1 B/op\nBenchmarkC 0 1 ns/op\n", 1, "f.txt:1: parsing iteration count"},
	} {
		_, perr := Parse(strings.NewReader(tc.in), "f.txt")
		if perr == nil {
			perr = CheckValues([]byte(tc.in), "f.txt")
		}
		n, err := NewPair().ReadNew(strings.NewReader(tc.in), "f.txt")
		if fmt.Sprint(err) != fmt.Sprint(perr) {
			t.Errorf("for %q, got error %v, want Parse's and CheckValues's %v", tc.in, err, perr)
		}
		if tc.wantE != "" && (err == nil || !strings.Contains(err.Error(), tc.wantE)) {
			t.Errorf("for %q, got error %v, want one containing %q", tc.in, err, tc.wantE)
		}
		if tc.wantE == "" && err != nil {
			t.Errorf("for %q, got error %v, want none", tc.in, err)
		}
		if tc.wantE == "" && n != tc.n {
			t.Errorf("for %q, got %d results and failures, want %d", tc.in, n, tc.n)
		}
	}
}
