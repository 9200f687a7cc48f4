package runner_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/benchd/benchd/runner"
)

func ExampleParse() {
	out := `goos: linux
pkg: example.com/core
Unit sessions/s better=higher
BenchmarkCreate/n=100-2   1000   104000 ns/op   961538 sessions/s
BenchmarkCreate/n=100-2   1000   101000 ns/op   990099 sessions/s
--- FAIL: BenchmarkLookup
    lookup_test.go:12: registry full
`
	set, err := runner.Parse(strings.NewReader(out), "bench.txt")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range set.Results {
		fmt.Println(r.Name, r.Procs, r.Unit, r.Better, len(r.Samples))
	}
	for _, f := range set.Failures {
		fmt.Println(f)
	}
	// Output:
	// Create/n=100 2 sec/op lower 2
	// Create/n=100 2 sessions/s higher 2
	// bench.txt:6: Lookup: fail: lookup_test.go:12: registry full
}

func ExampleNewReport() {
	old := &runner.Set{Results: []runner.Result{{Name: "Lookup", Unit: "sec/op", Better: runner.LowerBetter,
		Samples: []float64{100e-9, 101e-9, 99e-9, 100e-9, 102e-9, 98e-9}}}}
	new := &runner.Set{Results: []runner.Result{{Name: "Lookup", Unit: "sec/op", Better: runner.LowerBetter,
		Samples: []float64{120e-9, 121e-9, 119e-9, 120e-9, 122e-9, 118e-9}}}}
	rules, _ := runner.NewRules(runner.DefaultThresholds())
	rep := runner.NewReport(old, new, "main", "branch", rules, runner.Options{})
	v := rep.Verdicts[0]
	fmt.Println(v.Name, v.Status, v.Rule, v.Note)
	_ = runner.WriteText(os.Stdout, rep, runner.TextOptions{})
	// Output:
	// Lookup regressed regression worse by 20.0% ≥ 5% (p=0.002, n=6+6)
	//
	// sec/op  main           branch         vs base                 verdict
	// Lookup  100.0 ns ± 2%  120.0 ns ± 2%  +20.00%  p=0.002 n=6+6  REGRESSED [regression] worse by 20.0% ≥ 5% (p=0.002, n=6+6)
	//
	// 1 regressed of 1
}
