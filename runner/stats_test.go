package runner

import (
	"bufio"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func parseFile(t testing.TB, path string) *Set {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, err := Parse(f, path)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestBenchstatAgreement checks medians, p-values and deltas against what benchstat
// (golang.org/x/perf/cmd/benchstat) printed for the same two files, kept in
// testdata/compare/benchstat.txt (regenerate with
// `benchstat testdata/compare/old.txt testdata/compare/new.txt`).
func TestBenchstatAgreement(t *testing.T) {
	old := parseFile(t, "testdata/compare/old.txt")
	new := parseFile(t, "testdata/compare/new.txt")
	cmps := CompareSets(old, new, Options{})
	byKey := map[string]Comparison{}
	for _, c := range cmps {
		byKey[c.Name+"-"+strconv.Itoa(c.Procs)+" "+c.Unit] = c
	}
	f, err := os.Open("testdata/compare/benchstat.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^(\S+)\s+(\S+) ± \S+\s+(\S+) ± \S+\s+(~|[+-][0-9.]+%) \(p=([0-9.]+) n=\d+\)`)
	unit := ""
	rows := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "vs base") {
			cells := strings.Split(line, "│")
			unit = strings.TrimSpace(cells[1])
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		rows++
		c, ok := byKey[m[1]+" "+unit]
		if !ok {
			t.Errorf("benchstat has %s %s, we have no comparison", m[1], unit)
			continue
		}
		checkScaled(t, m[1]+" "+unit+" old median", c.Old.Median, m[2])
		checkScaled(t, m[1]+" "+unit+" new median", c.New.Median, m[3])
		p, _ := strconv.ParseFloat(m[5], 64)
		if math.Abs(c.P-p) > 0.0005 {
			t.Errorf("for %s %s, got p=%.4f, benchstat p=%s", m[1], unit, c.P, m[5])
		}
		if m[4] == "~" {
			if c.P < c.Alpha {
				t.Errorf("for %s %s, got p=%.4f < alpha, benchstat says no difference", m[1], unit, c.P)
			}
		} else {
			d, _ := strconv.ParseFloat(strings.TrimSuffix(m[4], "%"), 64)
			if math.Abs(100*c.Delta-d) > 0.006 {
				t.Errorf("for %s %s, got delta %+.3f%%, benchstat %s", m[1], unit, 100*c.Delta, m[4])
			}
		}
	}
	if rows < 20 {
		t.Fatalf("matched only %d benchstat rows, want ≥ 20: has the table format changed?", rows)
	}
}

// checkScaled compares v with a benchstat figure such as "100.5µ", "2.441Mi" or "300.0",
// to the 4 significant digits benchstat prints.
func checkScaled(t *testing.T, what string, v float64, s string) {
	t.Helper()
	factors := []struct {
		suffix string
		f      float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"n", 1e-9}, {"µ", 1e-6}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}}
	f := 1.0
	for _, x := range factors {
		if strings.HasSuffix(s, x.suffix) {
			s, f = strings.TrimSuffix(s, x.suffix), x.f
			break
		}
	}
	want, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("for %s, cannot read benchstat figure %q", what, s)
	}
	want *= f
	if math.Abs(v-want) > 0.0006*math.Abs(want) {
		t.Errorf("for %s, got %.6g, benchstat %s", what, v, s)
	}
}

func TestCompareStatus(t *testing.T) {
	// 10 samples each, no overlap: p is as small as the U test gets (~0.0002).
	base := func(v float64, d Direction) *Result {
		r := &Result{Name: "X", Unit: "u", Better: d}
		for i := range 10 {
			r.Samples = append(r.Samples, v*(1+float64(i)*0.001))
		}
		return r
	}
	check := func(name string, old, new *Result, want Status) {
		t.Helper()
		c := Compare(old, new, Options{})
		if c.Status != want {
			t.Errorf("for %s, got %s (delta %+.3f p=%.4f), want %s", name, c.Status, c.Delta, c.P, want)
		}
	}
	check("cost up 10%", base(100, LowerBetter), base(110, LowerBetter), StatusRegressed)
	check("cost down 10%", base(100, LowerBetter), base(90, LowerBetter), StatusImproved)
	check("cost up 3% (significant, below min effect)", base(100, LowerBetter), base(103, LowerBetter), StatusOK)
	check("rate down 10%", base(100, HigherBetter), base(90, HigherBetter), StatusRegressed)
	check("rate up 10%", base(100, HigherBetter), base(110, HigherBetter), StatusImproved)
	check("same", base(100, LowerBetter), base(100, LowerBetter), StatusOK)
	check("unknown direction", base(100, DirUnknown), base(150, DirUnknown), StatusUnknown)
	check("no baseline", nil, base(100, LowerBetter), StatusUnknown)
	check("from zero", base(0, LowerBetter), base(16, LowerBetter), StatusRegressed)

	few := &Result{Name: "X", Unit: "u", Better: LowerBetter, Samples: []float64{1, 2, 3}}
	c := Compare(few, few, Options{})
	if len(c.Warnings) == 0 || len(c.New.Warnings) == 0 {
		t.Errorf("for n=3, got warnings %q and %q, want too-few-samples warnings", c.Warnings, c.New.Warnings)
	}
	flat := Summarize([]float64{5, 5, 5, 5, 5, 5}, Options{})
	if len(flat.Warnings) != 1 || flat.Warnings[0] != "all samples are equal" {
		t.Errorf("for equal samples, got warnings %q, want [all samples are equal]", flat.Warnings)
	}
	wide := Summarize([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Options{})
	if len(wide.Warnings) != 1 || !strings.HasPrefix(wide.Warnings[0], "wide CI") {
		t.Errorf("for 1..10, got warnings %q, want a wide CI warning", wide.Warnings)
	}
}
