package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/benchd/benchd/runner"
)

// powerFlags are `benchd power`'s flags.
type powerFlags struct {
	runFlags
	fn        string  // function to slow down ("Registry.Start")
	benchmark string  // benchmark to calibrate on and expect the regression in
	effect    float64 // percent; 0: A/A
	mode      string  // against|baseline; default against
	trials    int     // default 20
	calRounds int     // calibration rounds; default 5
	unpaired  bool    // against mode: judge with the U test instead of the paired test
	expect    string  // benchmarks that rightly regress too (they run --func)
	alpha     float64 // overrides the project's alpha when > 0
	minEffect float64 // overrides the project's min_effect (percent) when > 0
}

func cmdPower(ctx context.Context, args []string, env *environ) error {
	var f powerFlags
	fs := flag.NewFlagSet("benchd power", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.StringVar(&f.dir, "dir", ".", "module root: where benchd.yaml, go.mod and the packages are")
	fs.StringVar(&f.config, "config", "", "project file (default: benchd.yaml in --dir, when present)")
	fs.StringVar(&f.suite, "suite", "", "suite from the project file (default quick, when defined)")
	fs.StringVar(&f.pkg, "package", "", "package to benchmark, overriding the suite's")
	fs.StringVar(&f.bench, "bench", "", "-bench regexp, overriding the suite's")
	fs.IntVar(&f.count, "count", 0, "samples per benchmark and side, overriding the suite's")
	fs.StringVar(&f.benchtime, "benchtime", "", "-benchtime, overriding the suite's")
	fs.DurationVar(&f.timeout, "timeout", 0, "timeout of one pass over the benchmarks")
	fs.StringVar(&f.interleave, "interleave", "", "turn or benchmark, overriding the suite's")
	fs.DurationVar(&f.budget, "budget", 0, "with --interleave benchmark: keep sampling after --count until this much time is spent (0: the suite's; -1s: none)")
	fs.StringVar(&f.measure, "measure", "", "time or instructions (valgrind's count per op), overriding the suite's")
	fs.StringVar(&f.fn, "func", "", "function to slow down in the copy: Name or Type.Name (needed with --effect > 0)")
	fs.StringVar(&f.benchmark, "benchmark", "", "benchmark the slowdown is calibrated on and expected in, e.g. Create/n=100")
	fs.Float64Var(&f.effect, "effect", 10, "injected slowdown in percent of the benchmark's time per op; 0 measures A/A")
	fs.StringVar(&f.expect, "expect", "", "regexp of other benchmarks that run --func in their timed region, whose regressing is right (it does not spoil a clean detection)")
	fs.StringVar(&f.mode, "mode", runner.ModeAgainst, "against (interleaved, like run --against) or baseline (a stored run, then a new one)")
	fs.IntVar(&f.trials, "trials", 20, "number of comparisons")
	fs.IntVar(&f.calRounds, "calibration-rounds", 5, "runs of each spin count when calibrating")
	fs.BoolVar(&f.unpaired, "unpaired", false, "with --mode against: judge with the U test, ignoring the pairing")
	fs.Float64Var(&f.alpha, "alpha", 0, "significance level, overriding the project's")
	fs.Float64Var(&f.minEffect, "min-effect", 0, "minimum effect in percent, overriding the project's")
	fs.Usage = func() {
		fmt.Fprint(env.stderr, `usage: benchd power [flags]

Measures the detector: copies the module, injects a busy loop calibrated to cost --effect
percent of --benchmark's time per op at the top of --func, runs --trials comparisons in
--mode and prints, per benchmark, how often it was flagged. With --effect 0 nothing is
injected and every flag is a false alarm (A/A). Each trial costs what one run costs.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageErrorf("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("power takes no arguments, got %q", fs.Args())
	}
	switch {
	case f.effect < 0:
		return usageErrorf("--effect %g: want a percentage ≥ 0", f.effect)
	case f.effect > 0 && (f.fn == "" || f.benchmark == ""):
		return usageErrorf("--effect %g needs --func and --benchmark", f.effect)
	case f.mode != runner.ModeAgainst && f.mode != runner.ModeBaseline:
		return usageErrorf("--mode %q: want against or baseline", f.mode)
	case f.trials < 1:
		return usageErrorf("--trials %d: want ≥ 1", f.trials)
	case f.alpha < 0 || f.alpha >= 1:
		return usageErrorf("--alpha %g: want a number in (0, 1)", f.alpha)
	}
	if err := runner.CheckBenchtime(f.benchtime); err != nil {
		return usageErrorf("--%v", err)
	}
	var expect *regexp.Regexp
	if f.expect != "" {
		re, err := regexp.Compile("^(?:" + f.expect + ")$")
		if err != nil {
			return usageErrorf("--expect: %v", err)
		}
		expect = re
	}
	proj, err := loadProject(f.config, f.dir)
	if err != nil {
		return err
	}
	if f.mode == runner.ModeAgainst {
		f.against = "HEAD" // the suite's against: sampling applies
	}
	cfg, suite, err := f.runConfig(proj)
	if err != nil {
		return err
	}
	rules, err := runner.NewRules(proj.Thresholds)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	o := proj.Options
	if f.alpha > 0 {
		o.Alpha = f.alpha
	}
	if f.minEffect > 0 {
		o.MinEffect = f.minEffect / 100
		// The project's regression thresholds would override it per benchmark.
		var ths []runner.Threshold
		for _, th := range proj.Thresholds {
			if th.Kind != runner.KindRegression {
				ths = append(ths, th)
			}
		}
		if rules, err = runner.NewRules(ths); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	o.Paired = f.mode == runner.ModeAgainst && !f.unpaired && cfg.Measure == runner.MeasureTime
	tmp, err := os.MkdirTemp("", "benchd-power-")
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer os.RemoveAll(tmp)
	pc := runner.PowerConfig{Run: cfg, Func: f.fn, Benchmark: f.benchmark, Expect: expect, Effect: f.effect / 100, Mode: f.mode,
		Trials: f.trials, CalibrationRounds: f.calRounds, Units: proj.Units, Options: o, Rules: rules,
		Log: func(s string) {
			fmt.Fprintf(env.stderr, "%s benchd power: %s\n", time.Now().UTC().Format("15:04:05"), s)
		}}
	fmt.Fprintf(env.stderr, "benchd power: suite %s, %s mode, effect %g%%, %d trials, count %d, benchtime %q, interleave %q, test %s, alpha %g, min effect %g%%\n",
		suite, f.mode, f.effect, f.trials, cfg.Count, cfg.Benchtime, cfg.Interleave, testName(o), o.Alpha, 100*o.MinEffect)
	if cfg.Budget > 0 {
		fmt.Fprintf(env.stderr, "benchd power: sampling budget %v per run\n", cfg.Budget)
	}
	res, err := runner.RunPower(ctx, pc, tmp)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("measuring power: %w", err)}
	}
	writePower(env, suite, res)
	return nil
}

func testName(o runner.Options) string {
	if o.Paired {
		return runner.TestSignedRank
	}
	return runner.TestU
}

// writePower prints res as a table: one row per benchmark, the flag counts and the sec/op
// change and resolution medians.
func writePower(env *environ, suite string, res *runner.PowerResult) {
	c := res.Config
	w := env.stdout
	unit := "sec/op"
	if c.Run.Measure == runner.MeasureInstructions {
		unit = runner.InstructionsUnit
	}
	minEffect := c.Options.MinEffect
	if c.Rules != nil && c.Benchmark != "" {
		minEffect = c.Rules.MinEffect(c.Benchmark, unit, minEffect)
	}
	fmt.Fprintf(w, "# benchd power: suite %s, measure %s, mode %s, test %s, alpha %g, min effect %g%% (%s), count %d, benchtime %q, interleave %q, budget %v\n",
		suite, cmp.Or(c.Run.Measure, runner.MeasureTime), c.Mode, testName(c.Options), c.Options.Alpha, 100*minEffect, unit, c.Run.Count, c.Run.Benchtime, c.Run.Interleave, c.Run.Budget)
	if c.Effect > 0 {
		fmt.Fprintf(w, "# injected: +%g%% into %s, calibrated on %s: %s\n", 100*c.Effect, c.Func, c.Benchmark, res.Calibration)
	} else {
		what := "nothing injected"
		if c.Func != "" {
			what = "the same 0-count spin call in " + c.Func + " on both sides"
		}
		fmt.Fprintf(w, "# A/A: %s; every flag is a false alarm\n", what)
	}
	fmt.Fprintf(w, "# %d trials in %v, load average %.2f at the start, %.2f at the end\n", res.Trials, res.Elapsed.Round(time.Second), res.LoadStart, res.LoadEnd)
	fmt.Fprintf(w, "%-28s %10s %10s %14s %14s\n", "benchmark", "regressed", "improved", "median Δ", "median ±res")
	for _, r := range res.Rows {
		mark := ""
		if r.Name == c.Benchmark {
			mark = "  ← target"
		}
		fmt.Fprintf(w, "%-28s %10s %10s %13.1f%% %13.1f%%%s\n", r.Name, frac(r.Regressed, res.Trials), frac(r.Improved, res.Trials),
			100*median(r.Deltas), 100*median(r.Resolutions), mark)
	}
	if c.Effect > 0 {
		also := ""
		if c.Expect != nil {
			also = " but the expected " + strings.TrimSuffix(strings.TrimPrefix(c.Expect.String(), "^(?:"), ")$") + " regressing"
		}
		fmt.Fprintf(w, "detected: %s (%.0f%%) trials flagged %s as regressed; %s (%.0f%%) with nothing else flagged%s\n",
			frac(res.Detected, res.Trials), pctOf(res.Detected, res.Trials), c.Benchmark, frac(res.Clean, res.Trials), pctOf(res.Clean, res.Trials), also)
	}
	if c.Effect == 0 {
		fmt.Fprintf(w, "A/A: %s trials with any benchmark flagged\n", frac(res.FlaggedTrials, res.Trials))
	}
	if u := res.U; u != nil {
		fmt.Fprintf(w, "the same samples judged with the U test: ")
		if c.Effect > 0 {
			fmt.Fprintf(w, "detected %s (%.0f%%), %s with nothing else flagged; ", frac(u.Detected, u.Trials), pctOf(u.Detected, u.Trials), frac(u.Clean, u.Trials))
		} else {
			fmt.Fprintf(w, "A/A %d of %d comparisons flagged; ", u.AAComparisonsFlagged, u.AAComparisons)
		}
		fmt.Fprintf(w, "%s trials with any flag\n", frac(u.FlaggedTrials, u.Trials))
	}
	if res.AAComparisons > 0 {
		fmt.Fprintf(w, "A/A: %d of %d judged comparisons flagged (%.1f%%)", res.AAComparisonsFlagged, res.AAComparisons, pctOf(res.AAComparisonsFlagged, res.AAComparisons))
		if res.AATrials > 0 {
			fmt.Fprintf(w, "; %s unchanged-vs-unchanged runs with any flag", frac(res.AAFlagged, res.AATrials))
		}
		fmt.Fprintln(w)
	}
}

func frac(n, of int) string { return fmt.Sprintf("%d/%d", n, of) }

func pctOf(n, of int) float64 { return 100 * float64(n) / float64(max(of, 1)) }

// median of xs (NaN for none), ignoring infinities unless all are.
func median(xs []float64) float64 {
	var f []float64
	for _, x := range xs {
		if !math.IsInf(x, 0) {
			f = append(f, x)
		}
	}
	if len(f) == 0 {
		if len(xs) > 0 {
			return math.Inf(1)
		}
		return math.NaN()
	}
	slices.Sort(f)
	if len(f)%2 == 1 {
		return f[len(f)/2]
	}
	return (f[len(f)/2-1] + f[len(f)/2]) / 2
}
