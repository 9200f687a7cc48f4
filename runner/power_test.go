package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInject checks that the spin call lands at the top of the chosen method only, and that
// a function that is not there (or is there twice) is an error.
func TestInject(t *testing.T) {
	dir := t.TempDir()
	src := "package p\n\ntype R struct{}\n\nfunc (r *R) Start() int {\n\treturn 1\n}\n\nfunc Start() int { return 2 }\n"
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Inject(Injection{PkgDir: dir, Func: "R.Start", Iterations: 7}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "p.go"))
	want := "func (r *R) Start() int {\n\tbenchdSpin(7)\n\treturn 1\n}\n\nfunc Start() int { return 2 }"
	if !strings.Contains(string(b), want) {
		t.Errorf("for R.Start, got\n%s\nwant it to contain\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "zz_benchd_spin.go")); err != nil {
		t.Errorf("no spin file: %v", err)
	}
	if err := Inject(Injection{PkgDir: dir, Func: "Stop", Iterations: 7}); err == nil || !strings.Contains(err.Error(), "found 0 times") {
		t.Errorf("for a missing function, got %v, want found 0 times", err)
	}
}

// TestBenchRegexp checks the expression that selects exactly one (sub-)benchmark.
func TestBenchRegexp(t *testing.T) {
	for in, want := range map[string]string{
		"Create/n=100":               `^BenchmarkCreate$/^n=100$`,
		"Pool/op=broadcast/conns=10": `^BenchmarkPool$/^op=broadcast$/^conns=10$`,
		"A.b+c":                      `^BenchmarkA\.b\+c$`,
	} {
		if got := BenchRegexp(in); got != want {
			t.Errorf("for %q, got %q, want %q", in, got, want)
		}
	}
}

// TestPowerFixture is CI's guard on the detector's power: in the fixture module (a temporary
// copy) a slowdown calibrated to +100% of Hash/n=1000 is injected into Hash, and a
// `run --against`-style trial of Hash and Fill (benchmark-at-a-time sampling, 20 pairs of
// 20 ms, the paired signed-rank test, alpha 0.001, 5% minimum effect) must flag Hash/n=1000
// as regressed and nothing else; an A/A trial must flag nothing. About 10 s a trial.
// A loaded machine (CI runs every package's tests at once on 2 cores) can spoil one trial,
// so each claim gets up to 3 trials: detection must succeed in one of them, A/A in one
// of them. The guard's effect is 2× because at +30% the same trials missed three times in a
// row at load 5 on 2 cores (measured +47% ±28%, +29% ±29%, +24% ±42%): a guard that fails
// on a busy CI machine guards nothing. A regression of the detector's power (a 30% change no longer seen, or unchanged
// code flagged, three times in a row) fails it; the figures themselves are measured with
// `benchd power` (docs/methodology.md).
func TestPowerFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs benchmarks")
	}
	rules, _ := NewRules(DefaultThresholds())
	cfg := PowerConfig{
		Run:  RunConfig{Dir: "testdata/fixture", Package: ".", Count: 16, Benchtime: "5ms", Interleave: InterleaveBenchmark},
		Func: "Hash", Benchmark: "Hash/n=1000", Mode: ModeAgainst, Trials: 1, CalibrationRounds: 3,
		Units:   map[string]Direction{"bytes/s": HigherBetter},
		Options: Options{Alpha: 0.001, MinEffect: 0.05, Paired: true},
		Rules:   rules,
		Log:     func(s string) { t.Log(s) },
	}
	try := func(what string, effect float64, ok func(*PowerResult) bool) {
		t.Helper()
		c := cfg
		c.Effect = effect
		for attempt := 1; attempt <= 3; attempt++ {
			res, err := RunPower(context.Background(), c, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if ok(res) {
				return
			}
			t.Logf("%s: attempt %d failed", what, attempt)
		}
		t.Errorf("%s: failed 3 trials in a row", what)
	}
	try("+100% in Hash", 1.00, func(r *PowerResult) bool { return r.Clean == 1 })
	try("A/A", 0, func(r *PowerResult) bool { return r.FlaggedTrials == 0 })
}

// TestPowerFixtureInstructions is TestPowerFixture counting instructions: +10% of Hash's time
// injected must be flagged in instructions/op (and nothing else), and an A/A trial must flag
// nothing — in one attempt each, as the counts do not depend on the machine's load.
func TestPowerFixtureInstructions(t *testing.T) {
	needValgrind(t)
	rules, _ := NewRules(DefaultThresholds())
	cfg := PowerConfig{
		Run:  RunConfig{Dir: "testdata/fixture", Package: ".", Count: 6, Benchtime: "100ms", Measure: MeasureInstructions},
		Func: "Hash", Benchmark: "Hash/n=1000", Mode: ModeAgainst, Trials: 1, CalibrationRounds: 3,
		Units:   map[string]Direction{"bytes/s": HigherBetter},
		Options: Options{Alpha: 0.01, MinEffect: 0.05},
		Rules:   rules,
		Log:     func(s string) { t.Log(s) },
	}
	for _, c := range []struct {
		what   string
		effect float64
		ok     func(*PowerResult) bool
	}{
		{"+10% in Hash", 0.10, func(r *PowerResult) bool { return r.Clean == 1 }},
		{"A/A", 0, func(r *PowerResult) bool { return r.FlaggedTrials == 0 }},
	} {
		pc := cfg
		pc.Effect = c.effect
		res, err := RunPower(context.Background(), pc, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if !c.ok(res) {
			t.Errorf("%s: detected %d, clean %d, flagged trials %d of %d", c.what, res.Detected, res.Clean, res.FlaggedTrials, res.Trials)
		}
	}
}
