package runner

import (
	"strings"
	"testing"
)

// TestAssumeExact checks `Unit … assume=exact` as benchstat honours it: the summary is the
// value itself (the mode), any difference is significant (P = 0) and the change decides —
// even with 3 samples a side, where the U test could never be significant.
func TestAssumeExact(t *testing.T) {
	parse := func(name, text string) *Set {
		t.Helper()
		s, err := Parse(strings.NewReader(text), name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const head = "Unit B/op assume=exact\n"
	old := parse("old", head+"BenchmarkX 1 10 ns/op 100 B/op\nBenchmarkX 1 11 ns/op 100 B/op\nBenchmarkX 1 12 ns/op 100 B/op\n")
	grown := parse("new", head+"BenchmarkX 1 10 ns/op 108 B/op\nBenchmarkX 1 11 ns/op 108 B/op\nBenchmarkX 1 12 ns/op 108 B/op\n")
	mixed := parse("mixed", head+"BenchmarkX 1 10 ns/op 100 B/op\nBenchmarkX 1 11 ns/op 101 B/op\nBenchmarkX 1 12 ns/op 100 B/op\n")
	get := func(cs []Comparison, unit string) Comparison {
		t.Helper()
		for _, c := range cs {
			if c.Unit == unit {
				return c
			}
		}
		t.Fatalf("no %s comparison", unit)
		return Comparison{}
	}
	c := get(CompareSets(old, grown, Options{}), "B/op")
	if c.Test != TestExact || c.P != 0 || c.Status != StatusRegressed || c.New.Median != 108 || c.New.Lo != 108 || c.New.Hi != 108 {
		t.Errorf("for exact 100 → 108 B/op, got test %q p=%g status %s new %+v, want exact, 0, regressed, 108 [108, 108]", c.Test, c.P, c.Status, c.New)
	}
	if c := get(CompareSets(old, old, Options{}), "B/op"); c.Status != StatusOK || c.Delta != 0 {
		t.Errorf("for exact 100 → 100 B/op, got %s delta %g, want ok 0", c.Status, c.Delta)
	}
	// sec/op has no assume line: the U test, which cannot decide with 3 samples.
	if c := get(CompareSets(old, grown, Options{}), "sec/op"); c.Test != TestU || c.Status != StatusOK {
		t.Errorf("for sec/op, got test %q status %s, want U ok", c.Test, c.Status)
	}
	// Values that differ under assume=exact: the mode, and benchmath's warning.
	c = get(CompareSets(old, mixed, Options{}), "B/op")
	if c.New.Median != 100 || len(c.New.Warnings) == 0 || !strings.Contains(c.New.Warnings[0], "exact distribution expected") {
		t.Errorf("for mixed exact values, got %+v, want median 100 with benchmath's warning", c.New)
	}
	// A stored baseline without the Unit line still compares exactly against a run with it.
	plain := parse("plain", "BenchmarkX 1 10 ns/op 100 B/op\n")
	if c := get(CompareSets(plain, grown, Options{}), "B/op"); c.Test != TestExact {
		t.Errorf("for a baseline without the Unit line, got test %q, want exact", c.Test)
	}
}

// TestCheckValues checks that NaN, ±Inf and negative values are refused with file:line.
func TestCheckValues(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"BenchmarkX 1 10 ns/op\nBenchmarkX 1 12 ns/op 3 B/op\n", ""},
		{"BenchmarkX 1 10 ns/op\nBenchmarkX 1 NaN ns/op\n", `f.txt:2: benchmark "X" unit "ns/op": value is NaN`},
		{"goos: linux\nBenchmarkX-2 1 10 ns/op -Inf B/op\n", `f.txt:2: benchmark "X" unit "B/op": value is -Inf`},
		{"BenchmarkX/n=1 1 -3 ns/op\n", `f.txt:1: benchmark "X/n=1" unit "ns/op": value is negative (-3)`},
	} {
		err := CheckValues([]byte(tc.in), "f.txt")
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("for %q, got %v, want %q", tc.in, err, tc.want)
		}
	}
}
