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

// compareArgs are `benchd compare`'s parsed command line and project.
type compareArgs struct {
	reportFlags
	paired   bool
	old, new string
	proj     *runner.Project
}

// parseCompare parses `benchd compare`'s command line (nil, nil for -help) and loads the
// project file.
func parseCompare(args []string, env *environ) (*compareArgs, error) {
	var c compareArgs
	fs := flag.NewFlagSet("benchd compare", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	c.register(fs)
	fs.BoolVar(&c.paired, "paired", false, "the files' samples were measured in pairs (interleaved, in the same order): judge with the signed-rank test on per-pair ratios")
	fs.Usage = func() {
		fmt.Fprint(env.stderr, "usage: benchd compare [flags] OLD NEW\n\nCompares two files of Go benchmark output (- for stdin) and judges NEW against the project's thresholds.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, usageErrorf("%v", err)
	}
	if fs.NArg() != 2 {
		return nil, usageErrorf("compare takes two files, OLD and NEW; got %d", fs.NArg())
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	c.old, c.new = fs.Arg(0), fs.Arg(1)
	var err error
	c.proj, err = loadProject(c.config, ".")
	return &c, err
}

// cmdCompare is `benchd compare`: it streams both files into a runner.Pair (per result only
// its samples) and writes the report row by row, so 10^6 benchmarks take a few hundred
// megabytes; compare_test.go checks that the output is what the Set-based pipeline (Parse,
// NewReport) writes.
func cmdCompare(ctx context.Context, args []string, env *environ) error {
	c, err := parseCompare(args, env)
	if c == nil || err != nil {
		return err
	}
	f, proj := c.reportFlags, c.proj
	// Note: with the default GOGC=100 the heap may grow to twice what the Pair holds (about
	// 230 MB at 10^6 benchmarks) before a collection, most of it garbage of finished rows.
	// The Pair is pointer-free arrays, cheap to mark, so collecting at +50% costs little
	// time (docs/cli.md) and keeps 10^6 benchmarks under 400 MB. GOGC, when set, wins.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(50))
	}
	p := runner.NewPair()
	if err := readSide(p.ReadOld, c.old, env); err != nil {
		return err
	}
	if err := readSide(p.ReadNew, c.new, env); err != nil {
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
	o.Paired = c.paired
	rep := p.Report(c.old, c.new, rules, o)
	if err := writeReport(env, f.format, rep); err != nil {
		return err
	}
	if n := len(rep.Failures); n > 0 {
		return &exitError{code: 2, err: fmt.Errorf("%s: %d benchmark(s) failed", c.new, n)}
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
