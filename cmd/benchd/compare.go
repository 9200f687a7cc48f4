package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/benchd/benchd/runner"
)

// cmdCompareFiles is `benchd compare`: it streams both files into a runner.Pair (per result
// only its samples) and writes the report row by row, so 10^6 benchmarks take a few hundred
// megabytes; the output is what the Set-based cmdCompare (run.go) writes, which
// compare_test.go checks.
func cmdCompareFiles(ctx context.Context, args []string, env *environ) error {
	var f reportFlags
	var paired bool
	fs := flag.NewFlagSet("benchd compare", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	f.register(fs)
	fs.BoolVar(&paired, "paired", false, "the files' samples were measured in pairs (interleaved, in the same order): judge with the signed-rank test on per-pair ratios")
	fs.Usage = func() {
		fmt.Fprint(env.stderr, "usage: benchd compare [flags] OLD NEW\n\nCompares two files of Go benchmark output (- for stdin) and judges NEW against the project's thresholds.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageErrorf("%v", err)
	}
	if fs.NArg() != 2 {
		return usageErrorf("compare takes two files, OLD and NEW; got %d", fs.NArg())
	}
	if err := f.validate(); err != nil {
		return err
	}
	proj, err := loadProject(f.config, ".")
	if err != nil {
		return err
	}
	// Note: with the default GOGC=100 the heap may grow to twice what the Pair holds (about
	// 230 MB at 10^6 benchmarks) before a collection, most of it garbage of finished rows.
	// The Pair is pointer-free arrays, cheap to mark, so collecting at +50% costs little
	// time (docs/cli.md) and keeps 10^6 benchmarks under 400 MB. GOGC, when set, wins.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(50))
	}
	p := runner.NewPair()
	if err := readSide(p.ReadOld, fs.Arg(0), env); err != nil {
		return err
	}
	if err := readSide(p.ReadNew, fs.Arg(1), env); err != nil {
		return err
	}
	if f.format == "gobench" {
		return p.WriteGoBench(env.stdout)
	}
	rules, err := runner.NewRules(proj.Thresholds)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	p.SetUnits(proj.Units)
	o := proj.Options
	o.Paired = paired
	rep := p.Report(fs.Arg(0), fs.Arg(1), rules, o)
	if err := writeReport(env, f.format, rep); err != nil {
		return err
	}
	if n := len(rep.Failures); n > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%s: %d benchmark(s) failed", fs.Arg(1), n)}
	}
	return failOn(f.failOn, rep.Status())
}

// readSide streams the Go benchmark file name ("-" = stdin) into a side of a Pair with
// read. Syntax errors and NaN, ±Inf or negative values (which the server refuses too) are
// exit-2 errors naming file and line.
func readSide(read func(io.Reader, string) (int, error), name string, env *environ) error {
	var r io.Reader
	if name == "-" {
		name = "<stdin>"
		r = env.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("reading benchmark file: %w", err)}
		}
		defer f.Close()
		r = f
	}
	n, err := read(r, name)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if n == 0 {
		return &exitError{code: 2, err: fmt.Errorf("%s: no benchmark results", name)}
	}
	return nil
}
