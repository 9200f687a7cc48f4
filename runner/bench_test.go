package runner

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// syntheticSets returns a baseline and a run of n benchmarks × samples samples in sec/op,
// a tenth of them 10% slower in the run.
func syntheticSets(n, samples int) (old, new *Set) {
	rng := rand.New(rand.NewPCG(1, 2))
	old, new = &Set{}, &Set{}
	for i := range n {
		name := fmt.Sprintf("Op%d/n=%d", i/4, []int{10, 100, 1000, 10000}[i%4])
		o := Result{Name: name, Procs: 2, Unit: "sec/op", Better: LowerBetter}
		r := o
		f := 1.0
		if i%10 == 0 {
			f = 1.1
		}
		for range samples {
			o.Samples = append(o.Samples, 1e-6*(1+0.02*rng.NormFloat64()))
			r.Samples = append(r.Samples, f*1e-6*(1+0.02*rng.NormFloat64()))
		}
		old.Results = append(old.Results, o)
		new.Results = append(new.Results, r)
	}
	return old, new
}

// BenchmarkCompare measures judging a run against a baseline: CompareSets (medians, CIs,
// U tests) and Evaluate with the default thresholds.
func BenchmarkCompare(b *testing.B) {
	rules, err := NewRules(DefaultThresholds())
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("benchmarks=%d", n), func(b *testing.B) {
			old, new := syntheticSets(n, 10)
			b.ReportAllocs()
			for b.Loop() {
				NewReport(old, new, "old", "new", rules, Options{})
			}
		})
	}
}

// BenchmarkParse measures parsing Go benchmark output of 1,000 benchmarks × 10 samples.
func BenchmarkParse(b *testing.B) {
	_, new := syntheticSets(1000, 10)
	var buf bytes.Buffer
	if err := WriteGoBench(&buf, new); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Run("benchmarks=1000", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(bytes.NewReader(data), "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
