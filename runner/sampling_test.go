package runner

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

// TestRunBenchmarkAtATime checks InterleaveBenchmark with Against: the warm-up's results
// are dropped, each side gets Count samples of every benchmark, each benchmark runs for the
// same fixed iteration count on both sides, and the order of the sides alternates (ABBA).
func TestRunBenchmarkAtATime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs benchmarks")
	}
	dir := copyFixture(t)
	var order []string
	res, err := Run(context.Background(), RunConfig{Dir: dir, Package: ".", Bench: "Sum|Hash", Count: 3, Benchtime: "2ms",
		Against: "HEAD", Interleave: InterleaveBenchmark, Progress: func(p Progress) {
			if p.Benchmark == "" {
				order = append(order, p.Side)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []*Set{res.Old, res.New} {
		for _, name := range []string{"Sum/n=100", "Sum/n=1000", "Hash/n=1000"} {
			if r := find(set, name, "sec/op"); r == nil || len(r.Samples) != 3 {
				t.Errorf("for %s, got %+v, want 3 samples (the warm-up dropped)", name, r)
			}
		}
	}
	// Iteration counts: the second field of each result line, per benchmark and side.
	counts := func(raw []byte) map[string][]string {
		m := map[string][]string{}
		for _, l := range strings.Split(string(raw), "\n") {
			if f := strings.Fields(l); len(f) > 3 && strings.HasPrefix(l, "Benchmark") {
				m[f[0]] = append(m[f[0]], f[1])
			}
		}
		return m
	}
	oc, nc := counts(res.OldRaw), counts(res.NewRaw)
	for name, c := range oc {
		if !slices.Equal(c, nc[name]) || len(slices.Compact(slices.Clone(c))) != 1 {
			t.Errorf("for %s, got iteration counts %v (old) and %v (new), want one fixed count on both", name, c, nc[name])
		}
	}
	// Warm-up HEAD, tree; then per round and benchmark, ABBA: HEAD tree, tree HEAD, HEAD tree.
	want := []string{"HEAD", "working tree"}
	for r := range 3 {
		for range 3 { // benchmarks
			if r%2 == 0 {
				want = append(want, "HEAD", "working tree")
			} else {
				want = append(want, "working tree", "HEAD")
			}
		}
	}
	if !slices.Equal(order, want) {
		t.Errorf("got turn order %v, want %v", order, want)
	}
	if !bytes.Contains(res.OldRaw, []byte("goos:")) {
		t.Errorf("old raw output lost its config lines")
	}
}

// TestFixedBenchtime checks the count a sample runs for.
func TestFixedBenchtime(t *testing.T) {
	for _, tc := range []struct {
		bt    string
		perOp []float64
		want  string
	}{
		{"20ms", []float64{1e-6, 3e-6}, "10000x"},
		{"", []float64{1e-3}, "100x"},
		{"500x", []float64{1e-6}, "500x"},
		{"1ms", []float64{1}, "1x"},
	} {
		if got := fixedBenchtime(tc.bt, tc.perOp); got != tc.want {
			t.Errorf("for %q %v, got %q, want %q", tc.bt, tc.perOp, got, tc.want)
		}
	}
}
